"""``flask doctor``: every readiness check of ``/readyz`` plus what the configuration says
(secrets, metrics protection, exporters, scanner, mail), as a table or ``--json``.

Exit status 1 when a critical check fails or a finding is ``fail`` (something that is broken,
not merely unusual: the metrics directory missing, the development secret outside
development); warnings never fail the command. Nothing printed is a secret or a credential:
hosts and names, never passwords, tokens or DSNs.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext

from app.core import health
from app.core.embedded import ensure_embedded
from config import CONFIGS, DEV_SECRET_KEY

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(frozen=True)
class Finding:
    name: str
    level: str  # ok, warn, fail
    detail: str


def _environment() -> str:
    return os.environ.get("GIGFORGE_ENV", "development")


def _strict(config) -> bool:
    """Production: what development tolerates (no exporter, no scanner) is worth a warning."""
    return _environment() == "production" or config.get("CONFIG_CLASS") == "ProductionConfig"


def _server(url: str | None) -> str:
    """``host:port/database`` of a database or Redis URL: no user, no password."""
    if not url:
        return "(not set)"
    if url.startswith("unix://"):
        return "unix socket " + urlsplit(url).path
    try:
        parsed = sa.engine.make_url(
            url.replace("redis://", "postgresql://", 1).replace("rediss://", "postgresql://", 1)
        )
    except Exception:  # an unusual URL: say nothing of it rather than leak it
        return "(unparsed URL)"
    host = parsed.host or parsed.query.get("host") or "localhost"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{host}{port}/{parsed.database or ''}"


def _origin(url: str) -> str:
    """``scheme://host:port`` of an endpoint URL (no credentials, path or query)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"


def configuration_findings(app: Flask) -> list[Finding]:
    """What an operator should know about ``app``'s configuration, each ok / warn / fail."""
    config = app.config
    strict = _strict(config)
    findings = []

    env = _environment()
    flags = [flag for flag in ("TESTING", "DEBUG") if config.get(flag)]
    detail = f"GIGFORGE_ENV={env} (config {config.get('CONFIG_CLASS', 'unknown')}"
    if env not in CONFIGS:
        findings.append(
            Finding("environment", FAIL, f"GIGFORGE_ENV={env} is not one of {', '.join(CONFIGS)}")
        )
    else:
        level = WARN if strict and config.get("DEBUG") else OK
        findings.append(Finding("environment", level, detail + "".join(f", {flag}" for flag in flags) + ")"))

    for name, embedded_flag, key, variable in (
        ("database", "EMBEDDED_POSTGRES", "SQLALCHEMY_DATABASE_URI", "DATABASE_URL"),
        ("redis", "EMBEDDED_REDIS", "REDIS_URL", "REDIS_URL"),
    ):
        if config.get(embedded_flag):
            level = WARN if strict else OK
            findings.append(Finding(name, level, f"embedded server under instance/ ({variable} unset)"))
        else:
            findings.append(Finding(name, OK, f"{variable}: {_server(config.get(key))}"))

    secret = config.get("SECRET_KEY") or ""
    if secret == DEV_SECRET_KEY:
        level = FAIL if strict else WARN
        findings.append(Finding("secret key", level, "the development default SECRET_KEY is in use"))
    elif len(secret) < 32 and not config.get("TESTING"):
        findings.append(Finding("secret key", WARN, "SECRET_KEY is shorter than 32 characters"))
    else:
        findings.append(Finding("secret key", OK, "SECRET_KEY set"))

    findings.extend(_metrics_findings(config))

    if not config.get("TRACING_ENABLED"):
        findings.append(Finding("tracing", WARN if strict else OK, "off (TRACING_ENABLED=0)"))
    elif config.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        endpoint = _origin(config["OTEL_EXPORTER_OTLP_ENDPOINT"])
        findings.append(Finding("tracing", OK, f"spans exported to {endpoint}"))
    else:
        detail = "no OTEL_EXPORTER_OTLP_ENDPOINT: trace ids in logs and jobs, no spans exported"
        findings.append(Finding("tracing", WARN if strict else OK, detail))

    if config.get("SENTRY_DSN"):
        findings.append(Finding("sentry", OK, "SENTRY_DSN set: errors are reported"))
    else:
        findings.append(
            Finding("sentry", WARN if strict else OK, "SENTRY_DSN unset: errors only in the logs")
        )

    scanner = config.get("UPLOAD_SCANNER")
    if scanner == "clamd":
        where = config.get("CLAMD_SOCKET") or f"{config.get('CLAMD_HOST')}:{config.get('CLAMD_PORT')}"
        findings.append(Finding("upload scanner", OK, f"clamd at {where}"))
    elif scanner == "none":
        detail = "none: uploads are served without an antivirus scan"
        findings.append(Finding("upload scanner", WARN if strict else OK, detail))
    else:
        findings.append(Finding("upload scanner", FAIL, f"unknown UPLOAD_SCANNER {scanner!r}"))

    backend = config.get("MAIL_BACKEND")
    if backend == "smtp":
        server = config.get("MAIL_SERVER")
        if server:
            findings.append(Finding("mail", OK, f"smtp via {server}:{config.get('MAIL_PORT')}"))
        else:
            findings.append(Finding("mail", FAIL, "smtp without MAIL_SERVER"))
    elif backend == "file":
        findings.append(
            Finding("mail", WARN if strict else OK, "file: emails are written under instance/, not sent")
        )
    else:
        findings.append(Finding("mail", WARN, f"MAIL_BACKEND={backend}"))
    return findings


def _metrics_findings(config) -> list[Finding]:
    if not config.get("METRICS_ENABLED"):
        return [Finding("metrics", WARN, "off (METRICS_ENABLED=0): /metrics answers 404")]
    token = config.get("METRICS_TOKEN")
    networks = list(config.get("METRICS_ALLOW_NETWORKS") or [])
    if token and networks:
        detail = f"/metrics: bearer token, or from {', '.join(networks)}"
    elif token:
        detail = "/metrics: bearer token"
    elif networks:
        detail = f"/metrics: from {', '.join(networks)} (no token)"
    else:
        detail = "/metrics unreachable: neither METRICS_TOKEN nor METRICS_ALLOW_NETWORKS is set"
    findings = [Finding("metrics", OK if token or networks else WARN, detail)]

    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        findings.append(Finding("metrics directory", FAIL, "PROMETHEUS_MULTIPROC_DIR is not set"))
    elif not Path(directory).is_dir():
        findings.append(Finding("metrics directory", FAIL, f"{directory} does not exist"))
    elif not os.access(directory, os.W_OK | os.X_OK):
        findings.append(Finding("metrics directory", FAIL, f"{directory} is not writable"))
    else:
        findings.append(Finding("metrics directory", OK, f"{directory} (writable)"))
    return findings


def diagnose(app: Flask) -> dict:
    """The checks and findings, and whether they fail the command (``exit_code``)."""
    # Development: the embedded servers start on first need; a failure to start shows in the
    # database and redis checks below.
    with contextlib.suppress(Exception):
        ensure_embedded(app)
    status, results = health.run_checks()
    critical = {check.name: check.critical for check in health.registered_checks()}
    checks = {name: {**result, "critical": critical.get(name, False)} for name, result in results.items()}
    findings = configuration_findings(app)
    failed = status == "unavailable" or any(f.level == FAIL for f in findings)
    return {
        "status": status,
        "checks": checks,
        "findings": [asdict(f) for f in findings],
        "exit_code": 1 if failed else 0,
    }


_COLOURS = {"ok": "green", "warn": "yellow", "fail": "red", "degraded": "yellow", "unavailable": "red"}


def _details(result: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in result.items() if key not in ("status", "critical"))


def _table(title: str, rows: list[tuple[str, str, str]]) -> list[str]:
    width = max([len(row[0]) for row in rows] + [4])
    lines = [click.style(title, bold=True)]
    for name, level, detail in rows:
        badge = click.style(f"{level.upper():<5}", fg=_COLOURS.get(level), bold=level != "ok")
        lines.append(f"  {name:<{width}}  {badge}  {detail}")
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def render_text(report: dict) -> str:
    check_rows = [
        (name + ("" if result["critical"] else " *"), result["status"], _details(result))
        for name, result in report["checks"].items()
    ]
    finding_rows = [(f["name"], f["level"], f["detail"]) for f in report["findings"]]
    lines = _table("Readiness checks (* not critical)", check_rows)
    lines.append("")
    lines.extend(_table("Configuration", finding_rows))
    lines.append("")

    failed_checks = [name for name, result in report["checks"].items() if result["status"] == "fail"]
    levels = [f["level"] for f in report["findings"]]
    summary = (
        f"readiness {report['status']}"
        + (f" ({', '.join(failed_checks)} failing)" if failed_checks else "")
        + f"; configuration: {levels.count(OK)} ok, {_count(levels.count(WARN), 'warning')}, "
        f"{_count(levels.count(FAIL), 'failure')}"
    )
    if report["exit_code"]:
        verdict, colour = "FAIL", "red"
    elif failed_checks or WARN in levels:
        verdict, colour = "WARN", "yellow"
    else:
        verdict, colour = "OK", "green"
    lines.append(click.style(f"{verdict}: {summary} (exit {report['exit_code']})", fg=colour, bold=True))
    return "\n".join(lines)


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
@with_appcontext
def doctor_command(ctx: click.Context, as_json: bool):
    """Check the database, Redis, the worker and the outbox, and the configuration.

    Exits 1 when a critical check (database, Redis) fails or a setting is broken."""
    report = diagnose(current_app._get_current_object())
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=False))
    else:
        click.echo(render_text(report))
    ctx.exit(report["exit_code"])
