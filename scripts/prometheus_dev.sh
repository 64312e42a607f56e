#!/usr/bin/env bash
# A local Prometheus scraping `make run` (http://localhost:${PORT:-5000}/metrics, allowed from
# loopback in development) every 5 s, with the alert rules of deploy/observability/alerts.yml.
# Its data lives in instance/prometheus; its UI and API at http://127.0.0.1:${PROM_PORT:-9090}.
# Needs Debian's `prometheus` package (`make test` installs it: scripts/ensure_packages.sh).
set -eu
cd "$(dirname "$0")/.."
PORT="${PORT:-5000}"
PROM_PORT="${PROM_PORT:-9090}"
PROMETHEUS="$(command -v prometheus || echo /usr/bin/prometheus)"
if [ ! -x "$PROMETHEUS" ]; then
  echo "prometheus is not installed: apt-get install prometheus (or run scripts/ensure_packages.sh as root)" >&2
  exit 3
fi
mkdir -p instance/prometheus/data
cp deploy/observability/alerts.yml instance/prometheus/alerts.yml
cat > instance/prometheus/prometheus.yml <<YAML
global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files: [alerts.yml]
scrape_configs:
  - job_name: gigforge
    metrics_path: /metrics
    static_configs:
      - targets: ["localhost:${PORT}"]
YAML
echo "Prometheus on http://127.0.0.1:${PROM_PORT} scraping http://localhost:${PORT}/metrics (Ctrl-C stops it)"
exec "$PROMETHEUS" --config.file=instance/prometheus/prometheus.yml \
  --storage.tsdb.path=instance/prometheus/data \
  --web.listen-address="127.0.0.1:${PROM_PORT}"
