#!/bin/sh
# The interpreter `make install` builds .venv on (Makefile: PYTHON; override with
# `make PYTHON=/path/to/python3.11`).
#
# The distribution's Python 3.11 first, when it has venv: Debian builds /usr/bin/python3.11
# statically linked, with profile-guided and link-time optimisation (Ubuntu's comes from the
# same packaging). Measured against a default pyenv build (a shared libpython, no PGO or LTO),
# which PATH often finds first: pure Python ~24 % faster, an order -> paid 13 % fewer
# instructions (docs/design/performance.md, "The interpreter"). Otherwise python3.11, then
# python3, from PATH.
set -eu
if [ -x /usr/bin/python3.11 ] && /usr/bin/python3.11 -c 'import ensurepip, venv' 2>/dev/null; then
  echo /usr/bin/python3.11
elif command -v python3.11 >/dev/null 2>&1; then
  command -v python3.11
else
  command -v python3
fi
