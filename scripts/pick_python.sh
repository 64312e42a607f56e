#!/bin/sh
# The interpreter `make install` builds .venv on (Makefile: PYTHON; override with
# `make PYTHON=/path/to/python3.11`).
#
# The distribution's Python 3.11 first, when it has venv: Debian and Ubuntu build
# /usr/bin/python3.11 statically linked, with profile-guided and link-time optimisation,
# and it runs this application ~20 % faster than a default pyenv build (a shared libpython,
# no PGO or LTO), which PATH often finds first (docs/design/performance.md, "The
# interpreter"). Otherwise python3.11, then python3, from PATH.
set -eu
if [ -x /usr/bin/python3.11 ] && /usr/bin/python3.11 -c 'import ensurepip, venv' 2>/dev/null; then
  echo /usr/bin/python3.11
elif command -v python3.11 >/dev/null 2>&1; then
  command -v python3.11
else
  command -v python3
fi
