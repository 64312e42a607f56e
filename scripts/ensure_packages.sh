#!/usr/bin/env bash
# Make sure the Debian packages the tests need are installed: Chromium (browser tests),
# PgBouncer (the suite's second run through a transaction-mode pool) and clamav-daemon (the
# antivirus tests start their own /usr/sbin/clamd with an EICAR-only database: neither the
# system's clamd service nor freshclam is needed or used).
# Exit 0 when they are there (or were installed); exit 3 when one cannot be installed.
set -u
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
[ -x /usr/sbin/clamd ] || missing+=(clamav-daemon)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${missing[*]} for the tests (apt-get)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  (apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null) >&2
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
  [ -x /usr/sbin/clamd ] || missing+=(clamav-daemon)
  if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
fi
cat >&2 <<MSG
################################################################################
#  Missing Debian packages that could not be installed: ${missing[*]}
#  Browser tests (chromium), the PgBouncer run (pgbouncer) and the antivirus tests
#  (clamav-daemon) WILL BE SKIPPED (the antivirus tests fail instead when CI is set).
#  Install them with apt-get to run the whole suite.
################################################################################
MSG
exit 3
