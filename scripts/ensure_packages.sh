#!/usr/bin/env bash
# Make sure the Debian packages the tests need are installed: Chromium (browser tests),
# PgBouncer (the suite's second run through a transaction-mode pool), clamav-daemon (the
# antivirus tests start their own /usr/sbin/clamd with an EICAR-only database: neither the
# system's clamd service nor freshclam is needed or used) and prometheus (promtool checks
# deploy/observability's rules and config; tests/observability/test_deploy.py starts its own
# /usr/bin/prometheus on a free port: the system's prometheus service is never started or used).
# Exit 0 when they are there (or were installed); exit 3 when one cannot be installed.
set -u
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
[ -x /usr/sbin/clamd ] || missing+=(clamav-daemon)
{ [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ]; } || missing+=(prometheus)
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${missing[*]} for the tests (apt-get)..." >&2
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d 101: install without starting services (Debian's prometheus would start one).
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
  fi
  (apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null) >&2
  [ "$created_policy" = 1 ] && rm -f "$policy"
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
  [ -x /usr/sbin/clamd ] || missing+=(clamav-daemon)
  { [ -x /usr/bin/prometheus ] && [ -x /usr/bin/promtool ]; } || missing+=(prometheus)
  if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
fi
cat >&2 <<MSG
################################################################################
#  Missing Debian packages that could not be installed: ${missing[*]}
#  Browser tests (chromium), the PgBouncer run (pgbouncer), the antivirus tests
#  (clamav-daemon) and the Prometheus tests (prometheus: promtool and a real server)
#  WILL BE SKIPPED (the antivirus and Prometheus tests fail instead when CI is set).
#  Install them with apt-get to run the whole suite.
################################################################################
MSG
exit 3
