#!/bin/sh
# `make install` keeps an existing virtualenv, whatever interpreter it was built on. When that is
# not the one scripts/pick_python.sh (or `make PYTHON=...`) chooses now, say so once per run,
# with the command that rebuilds it: a venv on another build runs the app at another speed
# (docs/design/performance.md, "The interpreter").
#   scripts/venv_note.sh VENV PYTHON
set -eu
venv=$1
python=$2
cfg="$venv/pyvenv.cfg"
[ -f "$cfg" ] || exit 0
built_on=$(sed -n 's/^executable = //p' "$cfg")
[ -n "$built_on" ] || exit 0
wanted=$("$python" -c 'import os, sys; print(os.path.realpath(sys._base_executable))' 2>/dev/null) || exit 0
if [ "$(realpath "$built_on" 2>/dev/null || echo "$built_on")" != "$wanted" ]; then
  echo "note: $venv runs on $built_on, not on $wanted (the interpreter make picks now);" \
       "rm -rf $venv && make install rebuilds it there" >&2
fi
