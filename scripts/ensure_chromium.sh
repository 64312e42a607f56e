#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests.
# Exit 0 when it is there (or was installed); exit 3 when it cannot be installed.
set -u
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Chromium for the browser tests (apt-get)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) >&2
  if [ -x /usr/bin/chromium ]; then exit 0; fi
fi
cat >&2 <<'MSG'
################################################################################
#  Chromium (/usr/bin/chromium) is missing and could not be installed:          #
#  BROWSER TESTS WILL BE SKIPPED. Install Debian's `chromium` package to run them.#
################################################################################
MSG
exit 3
