"""Deployment-side observability (deploy/observability, app/core/gunicorn_conf.py).

- The alerting rules pass ``promtool check rules`` and their unit tests (``promtool test rules``);
  the example scrape configuration passes ``promtool check config``.
- The dashboard and the rules query only metrics the app defines (app/core/metrics.py, plus the
  scrape-time gauges and Prometheus' ``up``), with labels those metrics have.
- Gunicorn with ``-c python:app.core.gunicorn_conf`` and two workers: ``/metrics`` adds up what
  both served, and a worker's restart loses no count.
- A real Prometheus scrapes that gunicorn with the bearer token and answers the dashboard's
  queries.

Debian's ``prometheus`` package provides /usr/bin/prometheus and /usr/bin/promtool
(scripts/ensure_packages.sh installs it). Without them these tests are skipped with a message
saying so, except under CI (``CI`` or ``GIGFORGE_REQUIRE_PROMETHEUS`` set), where they fail.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from app.core import metrics
from tests.helpers import wait_until
from tests.observability.servers import (
    DEPLOY,
    PROMETHEUS,
    PROMTOOL,
    ROOT,
    PrometheusServer,
    concurrently,
    require,
    start_worker,
    value_of,
    write_token,
)

# Computed when /metrics is scraped (app/events/metrics.py), not stored by app/core/metrics.py.
SCRAPE_TIME_SERIES = {
    "gigforge_outbox_pending_events": set(),
    "gigforge_outbox_oldest_pending_age_seconds": set(),
    "gigforge_rq_queue_jobs": {"queue", "state"},
    "gigforge_rq_workers": set(),
    "gigforge_rq_worker_heartbeat_age_seconds": set(),
}
TARGET_LABELS = {"job", "instance"}  # Prometheus adds them to every scraped series


def promtool(*args: str, cwd: Path = DEPLOY) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        [require(PROMTOOL), *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


# -- promtool ----------------------------------------------------------------------------------
def test_alert_rules_pass_promtool_check():
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_unit_tests_pass():
    result = promtool("test", "rules", "alerts.test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_links_its_runbook_section():
    runbook = (ROOT / "docs" / "operations" / "runbook.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line[3:].strip().lower()).replace(" ", "-")
        for line in runbook.splitlines()
        if line.startswith("## ")
    }
    rules = [rule for group in _alert_groups() for rule in group["rules"]]
    assert len(rules) >= 8
    for rule in rules:
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert rule["for"], name
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), name
        url = rule["annotations"]["runbook_url"]
        assert url.endswith(f"docs/operations/runbook.md#{name.lower()}"), url
        assert name.lower() in anchors, f"runbook.md has no section '## {name}'"


def test_example_scrape_config_passes_promtool_check(tmp_path):
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    job = next(job for job in config["scrape_configs"] if job["job_name"] == "gigforge")
    assert job["metrics_path"] == "/metrics"
    assert job["scheme"] == "https"
    assert config["rule_files"] == ["alerts.yml"]
    # The token file named there exists on a real server only: a copy pointing at a temp one.
    token = tmp_path / "token"
    token.write_text("a-metrics-token\n")
    job["authorization"]["credentials_file"] = str(token)
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    shutil.copy(DEPLOY / "alerts.yml", tmp_path / "alerts.yml")
    result = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


# -- metric names in the dashboard and the rules -------------------------------------------------
def defined_series() -> dict[str, set[str]]:
    """Every series name the app exposes, with its labels."""
    series: dict[str, set[str]] = {"up": set()}
    for obj in vars(metrics).values():
        if not isinstance(obj, MetricWrapperBase):
            continue
        labels = set(obj._labelnames)
        if obj._type == "counter":
            series[f"{obj._name}_total"] = labels
        elif obj._type == "histogram":
            series[f"{obj._name}_bucket"] = labels | {"le"}
            series[f"{obj._name}_count"] = labels
            series[f"{obj._name}_sum"] = labels
        else:
            series[obj._name] = labels
    assert "gigforge_http_requests_total" in series
    series.update(SCRAPE_TIME_SERIES)
    return series


PROMQL_FUNCTIONS = {
    "abs", "absent", "avg", "ceil", "clamp_min", "clamp_max", "count", "delta", "deriv", "floor",
    "histogram_quantile", "increase", "irate", "label_replace", "max", "min", "predict_linear",
    "rate", "round", "scalar", "sort_desc", "sum", "time", "topk", "bottomk", "vector",
    "max_over_time", "min_over_time", "avg_over_time",
}  # fmt: skip
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
SELECTOR = re.compile(r"([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}")
MATCHER = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
IDENTIFIER = re.compile(r"(?<![\w$.])([a-zA-Z_:][\w:]*)(\s*\()?")


def problems_in(expr: str, known: dict[str, set[str]]) -> list[str]:
    """Metric names (and their selectors' labels) of a PromQL expression the app does not define."""
    found = []
    for name, matchers in SELECTOR.findall(re.sub(r'"[^"]*"', '""', expr)):
        if name in known:
            unknown = set(MATCHER.findall(matchers)) - known[name] - TARGET_LABELS
            found += [f"{name} has no label {label!r}" for label in sorted(unknown)]
    bare = re.sub(r'"[^"]*"', "", expr)
    bare = re.sub(r"\$\{?\w+\}?", "", bare)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", "", bare)
    bare = GROUPING.sub("", bare)
    for word, call in IDENTIFIER.findall(bare):
        if word.lower() in PROMQL_KEYWORDS:
            continue
        if call:
            if word not in PROMQL_FUNCTIONS:
                found.append(f"unknown function {word}()")
        elif word not in known:
            found.append(f"unknown metric {word}")
    return found


def _alert_groups() -> list[dict]:
    return yaml.safe_load((DEPLOY / "alerts.yml").read_text())["groups"]


def _dashboard() -> dict:
    return json.loads((DEPLOY / "grafana-dashboard.json").read_text())


def _panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def test_the_name_check_catches_a_typo():
    known = defined_series()
    assert problems_in('sum(rate(gigforge_http_requests_total{route=~"$route"}[5m]))', known) == []
    assert problems_in("sum(rate(gigforge_http_request_total[5m]))", known) == [
        "unknown metric gigforge_http_request_total"
    ]
    assert problems_in('gigforge_jobs_total{tenant="x"}', known) == [
        "gigforge_jobs_total has no label 'tenant'"
    ]
    assert problems_in("sum by (le) (rat(gigforge_db_queries_total[5m]))", known) == [
        "unknown function rat()"
    ]


def test_alert_rules_query_only_metrics_the_app_defines():
    known = defined_series()
    problems = {
        rule["alert"]: found
        for group in _alert_groups()
        for rule in group["rules"]
        if (found := problems_in(rule["expr"], known))
    }
    assert problems == {}


def test_dashboard_is_valid_and_queries_only_metrics_the_app_defines():
    dashboard = _dashboard()
    assert dashboard["uid"] and dashboard["title"]
    assert 36 <= dashboard["schemaVersion"] <= 41
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert "label_values(gigforge_http_requests_total, route)" in variables["route"]["definition"]
    known = defined_series()
    panels = [p for p in _panels(dashboard) if p["type"] != "row"]
    assert len(panels) >= 30
    ids = [p["id"] for p in _panels(dashboard)]
    assert len(ids) == len(set(ids))
    problems, queried = {}, set()
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
            if found := problems_in(target["expr"], known):
                problems[f"{panel['title']} {target['refId']}"] = found
            queried.update(re.findall(r"gigforge_\w+", target["expr"]))
    assert problems == {}
    # Every metric family of the app appears on the dashboard somewhere.
    families = {re.sub(r"_(bucket|count|sum|total)$", "", name) for name in known if name != "up"}
    shown = {re.sub(r"_(bucket|count|sum|total)$", "", name) for name in queried}
    assert families - shown == set()


def scraped_total(text: str, name: str, **labels: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


@pytest.mark.slow
def test_two_gunicorn_workers_add_up_in_metrics_and_survive_a_restart(gunicorn):
    server = gunicorn()
    assert not (server.metrics_dir / "stale").exists(), "on_starting did not empty the directory"
    # Both workers up: each has served something (the readiness route, not the one counted).
    wait_until(
        lambda: (
            concurrently(lambda: server.get("/healthz", "localhost").status_code, 8)
            and len(set(server.counts_by_pid("/healthz")) & server.worker_pids()) == 2
        ),
        timeout=180,
        message=lambda: f"two workers never both answered\n{server.output()}",
    )
    requests_sent = 40
    statuses = concurrently(lambda: server.get("/", "acme.localhost").status_code, requests_sent)
    assert statuses == [200] * requests_sent

    by_pid = server.counts_by_pid("/")
    assert len(by_pid) == 2 and all(by_pid.values()), by_pid  # both workers served "/"
    assert sum(by_pid.values()) == requests_sent
    scrape = server.get("/metrics", "localhost")
    assert scrape.status_code == 200, scrape.text
    assert (
        scraped_total(scrape.text, "gigforge_http_requests_total", route="/", method="GET") == requests_sent
    )
    assert server.get("/metrics", "acme.localhost").status_code == 404  # platform host only

    # A worker dies: the master starts another; its live gauges go, its counts stay.
    victim = max(by_pid)
    live_gauges = server.metrics_dir / f"gauge_livesum_{victim}.db"
    assert live_gauges.exists()
    os.kill(victim, signal.SIGTERM)
    wait_until(
        lambda: not live_gauges.exists(), timeout=30, message="child_exit did not mark the worker dead"
    )
    wait_until(
        lambda: len(server.worker_pids() - {victim}) == 2,
        timeout=60,
        message=lambda: f"the master did not replace the worker\n{server.output()}",
    )
    server.wait_ready()
    scrape = server.get("/metrics", "localhost")
    assert (
        scraped_total(scrape.text, "gigforge_http_requests_total", route="/", method="GET") == requests_sent
    )
    assert server.counts_by_pid("/")[victim] == by_pid[victim]


@pytest.mark.slow
def test_a_real_prometheus_scrapes_gunicorn_with_the_token(app, gunicorn, tmp_path, acme, in_tenant):
    require(PROMETHEUS)
    token = "a-metrics-token-for-prometheus"  # noqa: S105
    token_file = write_token(tmp_path, token)
    # 127.0.0.1 is not an allowed network here: only the token lets Prometheus in.
    server = gunicorn(workers=1, METRICS_TOKEN=token, METRICS_ALLOW_NETWORKS="10.255.255.255/32")
    assert server.get("/metrics", "localhost").status_code == 401
    assert (
        server.get("/metrics", "localhost", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )

    worker = start_worker(app, server, tmp_path)
    prometheus = PrometheusServer(tmp_path, f"localhost:{server.port}", token_file)
    try:
        prometheus.wait_ready()
        wait_until(
            lambda: value_of(prometheus.query('up{job="gigforge"}')) == 1,
            timeout=120,
            message=lambda: f"{prometheus.api('targets')}\n{prometheus.output()}",
        )
        # Two rounds of requests, each seen by a scrape: rate() needs the counter to move.
        for round_ in (1, 2):
            assert concurrently(lambda: server.get("/", "acme.localhost").status_code, 5) == [200] * 5
            wait_until(
                lambda round_=round_: (
                    (value_of(prometheus.query('sum(gigforge_http_requests_total{route="/"})')) or 0)
                    >= 5 * round_
                ),
                timeout=30,
                message="Prometheus did not see the requests",
            )
        p95 = (
            "histogram_quantile(0.95, sum by (le, route) "
            "(rate(gigforge_http_request_duration_seconds_bucket[1m])))"
        )
        result = wait_until(
            lambda: [
                r for r in prometheus.query(p95) if r["metric"].get("route") == "/" and r["value"][1] != "NaN"
            ],
            timeout=30,
            message="no p95 latency for route /",
        )
        assert 0 < float(result[0]["value"][1]) < 30

        # An event committed here is delivered by the worker subprocess (same database, Redis
        # and metrics directory), which observes its lag.
        from app.events.models import OutboxEvent
        from app.events.services import publish
        from tenants.db import db

        with in_tenant(acme):
            event_id = publish("test.observability.scraped", {}).id
            db.session.commit()

        def delivered():
            worker.check_alive()
            with in_tenant(acme):
                return db.session.get(OutboxEvent, event_id).status == "dispatched"

        wait_until(delivered, timeout=180, message=lambda: f"the worker did not deliver\n{worker.output()}")
        # The worker observed the event's lag: the histogram moved.
        assert wait_until(
            lambda: (value_of(prometheus.query("sum(gigforge_event_lag_seconds_count)")) or 0) >= 1,
            timeout=30,
            message="no gigforge_event_lag_seconds_count observation",
        )
        # Every alerting rule evaluates without error against the real series.
        rules = wait_until(
            lambda: [
                rule
                for group in prometheus.api("rules")["groups"]
                for rule in group["rules"]
                if rule.get("lastEvaluation", "").startswith("20")
            ],
            timeout=30,
        )
        assert len(rules) == sum(len(group["rules"]) for group in _alert_groups())
        assert {rule["name"]: rule["health"] for rule in rules if rule["health"] != "ok"} == {}
    finally:
        prometheus.stop()
        worker.stop()
