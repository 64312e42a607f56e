"""Hourly contracts per worker process: log time -> close the week -> approve and bill (issue #17).

A bench tenant ``hourlybench`` is rebuilt on every run (dropped and provisioned again, as
``orderbench``) with ``--clients`` clients (each with a saved sandbox card,
``billing.save_sandbox_card``), ``--freelancers`` freelancers and ``--contracts`` active hourly
contracts between them, created through the contract services with an injected clock two
weeks ago (offer, acceptance, both signatures: the open-ended engagement opens), in a few time
zones, at 30.00-50.00 an hour with a 40-hour weekly limit. Then, through the whole app in this
process where there is an endpoint (WSGI test clients, as ``bench.order_flow``):

- **log time**: ``POST /api/v1/contracts/<id>/time-entries`` with the freelancers' bearer
  tokens, a start and an end on a day of last week (local time), ``--entries-per-day`` entries
  per contract (09:00-12:30, 13:30-17:00, ...), one day of last week per thread count, with
  ``--threads`` threads at once (each thread its own contracts);
- **close the week**: ``app.hourly.tasks.run_due_in_tenant(now)`` (the Monday job's body: one
  transaction per week closed into a submitted timesheet) over every contract, one thread;
- **approve -> billed**: ``POST /api/v1/timesheets/<id>/approve`` (Idempotency-Key) by the
  clients: the saved card is charged (a payment into the week's milestone escrow) and the
  escrow released to the freelancer minus commission, in the request; the timesheets are
  shared between the thread counts;
- **the Monday sweep's scan**: ``app.core.sweeps.tenants_with_due`` with the two conditions
  of ``app.hourly.tasks.sweep`` (a ``UNION ALL`` over every tenant schema of the benchmark
  database), ``--sweep-repeat`` times each; ``--sweep-tenants N`` first grows the database's
  population to N tenants (``bench-NNNNN``, kept between runs) so the scan has schemas to read.

SQL statements are counted per operation (``bench.order_flow.SQL``: every statement this process
sends). Afterwards a sanity check: ``--races`` timesheets approved by two threads at once with
different keys (exactly one 200 and one 409, charged once), then the ledger must verify and its
totals match the timesheets: one payment and one release per billed timesheet, clearing =
everything charged, commission + freelancers' pending = everything released, no escrow left,
every timesheet billed.

    .venv/bin/python -m bench.hourly_flow [--threads 1,2,4] [--contracts 300] [--races 20]
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bench import order_flow
from bench._common import (
    Services,
    add_service_args,
    ensure_public_schema,
    environment,
    fill_tenants,
    make_app,
    percentile,
    print_table,
    record,
    summarize,
    tenant_count,
)
from bench.order_flow import SQL, StepFailed, Timings, _expect, _open, _timed, run_phase

SLUG = "hourlybench"
PASSWORD = "bench-password-123"  # noqa: S105  (bench users only)
CARD = ("4242424242424242", "12/40", "123")
COMMISSION_BPS, MIN_FEE = 1000, 100
ZONES = ("Europe/Berlin", "America/New_York", "UTC", "Asia/Tokyo")
RATES = (3_000, 3_500, 4_000, 4_500, 5_000)  # minor units an hour
CAP_HOURS = 40
SLOTS = (("09:00", "12:30"), ("13:30", "17:00"), ("17:30", "19:00"), ("19:30", "21:00"))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.hourly_flow", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="1,2,4", help="comma-separated thread counts (at most 7)")
    parser.add_argument("--contracts", type=int, default=300, help="active hourly contracts")
    parser.add_argument("--clients", type=int, default=100, help="clients, each with a saved card")
    parser.add_argument("--freelancers", type=int, default=150, help="freelancers")
    parser.add_argument(
        "--entries-per-day", type=int, default=2, choices=range(1, len(SLOTS) + 1), help="per contract"
    )
    parser.add_argument("--races", type=int, default=20, help="timesheets approved twice at once")
    parser.add_argument("--sweep-repeat", type=int, default=20, help="scans per sweep condition")
    parser.add_argument(
        "--sweep-tenants", type=int, default=0, help="grow the database to this many tenants first"
    )
    add_service_args(parser)
    args = parser.parse_args(argv)
    args.thread_counts = [int(n) for n in args.threads.split(",") if n.strip()]
    if not args.thread_counts or min(args.thread_counts) < 1 or len(args.thread_counts) > 7:
        parser.error("--threads: one to seven positive thread counts (one day of last week each)")
    if args.contracts <= args.races:
        parser.error("--contracts must be above --races")
    return args


@dataclass
class Contract:
    id: int
    client_id: int
    freelancer_id: int
    timezone: str


@dataclass
class Population:
    tenant: object
    host: str
    now: datetime
    contracts: list[Contract]
    auth: dict[int, dict] = field(default_factory=dict)  # user id -> Authorization header
    build_seconds: float = 0.0


# --------------------------------------------------------------------------- the population


def build_population(app, args, now: datetime) -> Population:
    """Drop and provision ``hourlybench``: clients with a saved card, freelancers, and
    ``--contracts`` hourly contracts activated two weeks before ``now`` (through the services)."""
    from flask import current_app

    from app.accounts.models import User
    from app.accounts.services import create_user, upsert_seller_profile
    from app.accounts.tokens import issue_token_pair
    from app.contracts import services as contracts
    from app.payments import billing
    from app.settings.models import MarketplaceSettings
    from tenants.db import db, tenant_context
    from tenants.provisioning import create_tenant, drop_tenant
    from tenants.resolver import get_tenant_by_slug

    started = time.perf_counter()
    previous = get_tenant_by_slug(SLUG)
    if previous is not None:
        order_flow.discard_queued_jobs(previous.id)  # e.g. left by an interrupted run
        drop_tenant(SLUG)
    base_domain = current_app.config["BASE_DOMAIN"]
    tenant = create_tenant(SLUG, "Hourly Bench", base_domain=base_domain, options={}).tenant
    began = now - timedelta(days=14)
    pop = Population(tenant, f"{SLUG}.{base_domain}", now, [])
    with tenant_context(tenant):
        settings = db.session.get(MarketplaceSettings, 1)
        settings.payment_provider = "sandbox"
        settings.commission_bps, settings.commission_min_fee_minor = COMMISSION_BPS, MIN_FEE
        db.session.commit()
        clients, freelancers = [], []
        for n in range(1, args.clients + 1):
            client = create_user(f"client{n}@{SLUG}.test", PASSWORD, f"Client {n}")
            client.email_verified_at = began
            db.session.flush()
            billing.save_sandbox_card(client, *CARD, today=began.date())
            clients.append(client.id)
            pop.auth[client.id] = {"Authorization": f"Bearer {issue_token_pair(client)['access_token']}"}
        for n in range(1, args.freelancers + 1):
            freelancer = create_user(f"freelancer{n}@{SLUG}.test", PASSWORD, f"Freelancer {n}")
            freelancer.email_verified_at = began
            upsert_seller_profile(freelancer, headline="Backend developer", skills=["Python"])
            freelancers.append(freelancer.id)
            pop.auth[freelancer.id] = {
                "Authorization": f"Bearer {issue_token_pair(freelancer)['access_token']}"
            }
        db.session.commit()
        for n in range(args.contracts):
            client = db.session.get(User, clients[n % len(clients)])
            freelancer = db.session.get(User, freelancers[n % len(freelancers)])
            tz = ZONES[n % len(ZONES)]
            terms = {
                "payment_model": "hourly",
                "title": f"Backend work, contract {n + 1}",
                "scope": "Keep the booking tool's backend healthy: features, fixes and reviews.",
                "rate_minor": RATES[n % len(RATES)],
                "weekly_cap_hours": CAP_HOURS,
                "timezone": tz,
                "message": "Weekly, as discussed.",
            }
            contract = contracts.direct_offer(client, freelancer.id, terms, now=began)
            contracts.accept_offer(freelancer, contract.id, now=began)
            contracts.sign(freelancer, contract.id, freelancer.display_name, now=began)
            contracts.sign(client, contract.id, client.display_name, now=began)
            if contract.status != "active":
                sys.exit(f"contract {n + 1} is {contract.status} after both signatures")
            pop.contracts.append(Contract(contract.id, client.id, freelancer.id, tz))
            if n % 50 == 49:
                db.session.commit()
        db.session.commit()
    pop.build_seconds = time.perf_counter() - started
    return pop


def last_week(contract: Contract, now: datetime) -> date:
    """The Monday of the week before the one running now in the contract's time zone."""
    today = now.astimezone(ZoneInfo(contract.timezone)).date()
    return today - timedelta(days=today.weekday() + 7)


# --------------------------------------------------------------------------- log time


def log_time(pop: Population, api, contract: Contract, day: date, slot: tuple[str, str], timings: Timings):
    r = _timed(
        timings,
        "log time (API)",
        lambda: _open(
            api,
            pop.host,
            "POST",
            f"/api/v1/contracts/{contract.id}/time-entries",
            json={"work_date": day.isoformat(), "start": slot[0], "end": slot[1], "memo": "Booking API"},
            headers=pop.auth[contract.freelancer_id],
        ),
    )
    body = _expect(r, 201, "log time").json
    if body["contract_id"] != contract.id or body["timesheet_id"] is not None:
        raise StepFailed(f"log time: {body}")


def _rates(phase: dict, ops: int) -> dict:
    phase.update(
        ops=ops - phase["failed"],
        ops_per_s=(ops - phase["failed"]) / phase["wall_s"],
        cpu_ms_per_op=phase["cpu_s"] * 1000 / max(ops, 1),
        sql_per_op=phase["sql"] / max(ops, 1),
    )
    return phase


def _steps(timings: Timings) -> dict:
    return {
        name: {"n": len(v), "p50_ms": percentile(v, 50) * 1000, "p95_ms": percentile(v, 95) * 1000}
        for name, v in timings.steps.items()
    }


def measure_log_time(app, pop: Population, threads: int, day_index: int, per_day: int) -> dict:
    """Every contract logs ``per_day`` entries on day ``day_index`` of its last week."""
    timings = Timings()
    apis = [app.test_client(use_cookies=False) for _ in range(threads)]
    work = [
        (c, last_week(c, pop.now) + timedelta(days=day_index), SLOTS[s])
        for c in pop.contracts
        for s in range(per_day)
    ]
    # A contract's entries stay in one thread (one after the other, as one freelancer logs them).
    chunks = [[w for w in work if w[0].id % threads == i] for i in range(threads)]
    phase = run_phase(chunks, lambda i, w: log_time(pop, apis[i], w[0], w[1], w[2], timings))
    return {"threads": threads, "log_time": _rates(phase, len(work)), "steps": _steps(timings)}


# --------------------------------------------------------------------------- close the week


def close_weeks(pop: Population) -> dict:
    """``run_due_in_tenant(now)``: every contract's last week closed (one transaction each)."""
    from app.core.jobs import tenant_job_context
    from app.hourly import services, tasks

    with tenant_job_context(pop.tenant.id):
        started, sql = time.perf_counter(), SQL.count
        due = services.weeks_to_close(pop.now)
        scan = {"seconds": time.perf_counter() - started, "sql": SQL.count - sql, "weeks_due": len(due)}
    with tenant_job_context(pop.tenant.id):
        started, cpu, sql = time.perf_counter(), time.process_time(), SQL.count
        result = tasks.run_due_in_tenant(pop.now)
        wall = time.perf_counter() - started
        cpu, sql = time.process_time() - cpu, SQL.count - sql
    weeks = result["weeks_closed"]
    return {
        "weeks_due": len(due),
        "weeks_closed": weeks,
        "timesheets_approved": result["timesheets_approved"],
        "wall_s": wall,
        "weeks_per_s": weeks / wall,
        "ms_per_week": wall * 1000 / max(weeks, 1),
        "cpu_ms_per_week": cpu * 1000 / max(weeks, 1),
        "sql_per_week": sql / max(weeks, 1),
        "sql": sql,
        "weeks_to_close_query": scan,
    }


def submitted_sheets(pop: Population) -> list[tuple[int, int, int]]:
    """``(timesheet id, client id, amount)`` of every submitted timesheet."""
    import sqlalchemy as sa

    from app.contracts.models import Contract as ContractRow
    from app.hourly.models import Timesheet
    from tenants.db import db, tenant_context

    with tenant_context(pop.tenant):
        rows = db.session.execute(
            sa.select(Timesheet.id, ContractRow.client_id, Timesheet.amount_minor)
            .join(ContractRow, ContractRow.id == Timesheet.contract_id)
            .where(Timesheet.status == "submitted")
            .order_by(Timesheet.id)
        ).all()
        db.session.rollback()
    return [tuple(r) for r in rows]


# --------------------------------------------------------------------------- approve -> billed


def approve(pop: Population, api, sheet: tuple[int, int, int], timings: Timings, key: str | None = None):
    return _timed(
        timings,
        "approve -> billed (API)",
        lambda: _open(
            api,
            pop.host,
            "POST",
            f"/api/v1/timesheets/{sheet[0]}/approve",
            json={},
            headers={**pop.auth[sheet[1]], "Idempotency-Key": key or uuid.uuid4().hex},
        ),
    )


def _check_billed(response, sheet: tuple[int, int, int]) -> None:
    body = _expect(response, 200, "approve").json
    if body["status"] != "billed" or body["amount_minor"] != sheet[2] or not body["milestone_id"]:
        raise StepFailed(f"approve: {body['status']}, {body['amount_minor']}, {body.get('failure_reason')}")


def measure_approve(app, pop: Population, threads: int, sheets: list[tuple[int, int, int]]) -> dict:
    timings = Timings()
    apis = [app.test_client(use_cookies=False) for _ in range(threads)]
    chunks = [sheets[i::threads] for i in range(threads)]  # bearer tokens: any thread
    phase = run_phase(chunks, lambda i, s: _check_billed(approve(pop, apis[i], s, timings), s))
    return {"threads": threads, "approve": _rates(phase, len(sheets)), "steps": _steps(timings)}


# --------------------------------------------------------------------------- sweep scan


def sweep_scan(kind: str, now: datetime, repeat: int) -> dict:
    """One of the Monday sweep's two read-only cross-tenant scans (``kind``: weeks or reviews), timed."""
    from app.core.sweeps import tenants_with_due
    from app.hourly import tasks

    if kind == "weeks":
        table, due, params = "time_entries", tasks.WEEKS_DUE, {"monday": tasks._earliest_monday(now)}
    else:
        table, due, params = "timesheets", tasks.REVIEWS_DUE, {"now": now}
    seconds, found = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        found = tenants_with_due(table, due, params)
        seconds.append(time.perf_counter() - started)
    stats = summarize(seconds)
    return {
        "table": table,
        "tenants": tenant_count(),
        "tenants_found": len(found),
        **{k: v for k, v in stats.items() if k != "mean"},
    }


# --------------------------------------------------------------------------- sanity


def race_check(app, pop: Population, sheets: list[tuple[int, int, int]]) -> dict:
    """Each timesheet approved by two threads at once with different keys."""
    timings = Timings()
    outcomes: dict[str, int] = defaultdict(int)
    for sheet in sheets:
        barrier = threading.Barrier(2)
        clients = [app.test_client(use_cookies=False) for _ in range(2)]

        def both(i, clients=clients, barrier=barrier, sheet=sheet):
            barrier.wait()
            return approve(pop, clients[i], sheet, timings).status_code

        with ThreadPoolExecutor(2) as pool:
            outcome = tuple(sorted(pool.map(both, range(2))))
        outcomes[str(outcome)] += 1
        if outcome != (200, 409):
            timings.fail(f"race approve statuses {outcome}")
    return {"pairs": len(sheets), "outcomes": dict(outcomes), "failures": timings.failures}


def ledger_check(pop: Population) -> dict:
    """verify() and the ledger's totals against the timesheets."""
    import sqlalchemy as sa

    from app.hourly.models import Timesheet
    from app.ledger import services as ledger
    from app.ledger.models import LedgerAccount, LedgerTransaction
    from app.ledger.verify import verify
    from app.orders import services
    from app.payments.models import Payment
    from tenants.db import db, tenant_context

    with tenant_context(pop.tenant):
        report = verify()
        sheets = db.session.execute(sa.select(Timesheet.status, Timesheet.amount_minor)).all()
        billed = [amount for status, amount in sheets if status == "billed"]
        statuses = defaultdict(int)
        for status, _amount in sheets:
            statuses[status] += 1
        kinds = dict(
            db.session.execute(
                sa.select(LedgerTransaction.kind, sa.func.count()).group_by(LedgerTransaction.kind)
            ).all()
        )
        payments = dict(
            db.session.execute(sa.select(Payment.status, sa.func.count()).group_by(Payment.status)).all()
        )
        clearing = ledger.account_balance(ledger.CLEARING, "USD")
        commission = ledger.account_balance(ledger.COMMISSION, "USD")
        fees = sum(services.commission_for(amount) for amount in billed)

        def total(kind: str) -> int:
            return db.session.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(LedgerAccount.balance_minor), 0)).where(
                    LedgerAccount.kind == kind
                )
            )

        pending, escrow = total("seller_pending"), total("escrow")
        db.session.rollback()
    problems = list(report.problems)
    if statuses.get("billed", 0) != len(sheets) or len(sheets) != len(pop.contracts):
        problems.append(f"timesheets {dict(statuses)}: expected {len(pop.contracts)} billed")
    if kinds.get("payment", 0) != len(billed) or payments != {"succeeded": len(billed)}:
        problems.append(
            f"{kinds.get('payment', 0)} payment transactions ({payments}) for {len(billed)} billed"
        )
    if kinds.get("release", 0) != len(billed):
        problems.append(f"{kinds.get('release', 0)} release transactions for {len(billed)} billed")
    if clearing != sum(billed):
        problems.append(f"clearing {clearing} != {sum(billed)} charged")
    if commission != fees or commission + pending != sum(billed):
        problems.append(
            f"commission {commission} (fees {fees}) + pending {pending} != {sum(billed)} released"
        )
    if escrow != 0:
        problems.append(f"escrow {escrow} left")
    return {
        "ok": report.ok and not problems,
        "problems": problems[:20],
        "transactions": report.transactions,
        "entries": report.entries,
        "timesheets": dict(statuses),
        "billed_minor": sum(billed),
        "commission_minor": commission,
        "verify_seconds": report.seconds,
    }


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    services = Services(args)
    app = make_app(services, "cheap", RATELIMIT_ENABLED=False)
    now = datetime.now(UTC)
    with app.app_context():
        ensure_public_schema()
        env = environment(services)
        if args.sweep_tenants and tenant_count() < args.sweep_tenants:
            print(f"growing the population to {args.sweep_tenants} tenants ...", flush=True)
            fill_tenants(args.sweep_tenants)
        print(
            f"building {SLUG}: {args.clients} clients with a saved card, {args.freelancers} freelancers, "
            f"{args.contracts} hourly contracts started on {(now - timedelta(days=14)):%Y-%m-%d} ...",
            flush=True,
        )
        pop = build_population(app, args, now)
        from tenants.db import db

        SQL.install(db.engine)
    print(f"  built in {pop.build_seconds:.1f} s", flush=True)
    # Growing the population and the build load the machine too: the load when measuring starts.
    env["loadavg_at_measure"] = [round(x, 2) for x in os.getloadavg()]
    log_runs = []
    for day_index, threads in enumerate(args.thread_counts):
        n = len(pop.contracts) * args.entries_per_day
        print(f"threads={threads}: log time, {n} entries on day {day_index + 1} of last week ...", flush=True)
        log_runs.append(measure_log_time(app, pop, threads, day_index, args.entries_per_day))
    scan = {}
    with app.app_context():
        print("sweep scan: weeks to close ...", flush=True)
        scan["weeks to close (time_entries)"] = sweep_scan("weeks", now, args.sweep_repeat)
        print("close the week: run_due_in_tenant(now) ...", flush=True)
        closing = close_weeks(pop)
        sheets = submitted_sheets(pop)
        print("sweep scan: reviews due (as if every review period had run out) ...", flush=True)
        scan["reviews due (timesheets)"] = sweep_scan("reviews", now + timedelta(days=31), args.sweep_repeat)
    races_sheets, sheets = sheets[: args.races], sheets[args.races :]
    per_count = len(sheets) // len(args.thread_counts)
    approve_runs = []
    for k, threads in enumerate(args.thread_counts):
        part = (
            sheets[k * per_count : (k + 1) * per_count]
            if k < len(args.thread_counts) - 1
            else sheets[k * per_count :]
        )
        print(f"threads={threads}: approve -> billed, {len(part)} timesheets ...", flush=True)
        approve_runs.append(measure_approve(app, pop, threads, part))
    print(f"sanity: {len(races_sheets)} timesheets approved twice at once ...", flush=True)
    races = race_check(app, pop, races_sheets)
    with app.app_context():
        check = ledger_check(pop)
        dropped = order_flow.discard_queued_jobs(pop.tenant.id)
        env["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
        env["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]

    print()
    rows = []
    for run in log_runs:
        d = run["log_time"]
        rows.append(
            [run["threads"], "log time", d["ops"], d["wall_s"], d["ops_per_s"], d["cpu_ms_per_op"]]
            + [d["sql_per_op"], d["failed"]]
        )
    rows.append(
        [1, "close the week (run_due_in_tenant)", closing["weeks_closed"], closing["wall_s"]]
        + [closing["weeks_per_s"], closing["cpu_ms_per_week"], closing["sql_per_week"], 0]
    )
    for run in approve_runs:
        d = run["approve"]
        rows.append(
            [run["threads"], "approve -> billed", d["ops"], d["wall_s"], d["ops_per_s"], d["cpu_ms_per_op"]]
            + [d["sql_per_op"], d["failed"]]
        )
    print_table(["threads", "operation", "ops", "wall s", "ops/s", "cpu ms/op", "sql/op", "failed"], rows)
    print()
    step_rows = [
        [run["threads"], name, s["n"], s["p50_ms"], s["p95_ms"]]
        for run in itertools.chain(log_runs, approve_runs)
        for name, s in run["steps"].items()
    ]
    step_rows.append(
        [
            1,
            "close: weeks_to_close query",
            closing["weeks_due"],
            closing["weeks_to_close_query"]["seconds"] * 1000,
        ]
        + [""]
    )
    step_rows.append([1, "close: one week", closing["weeks_closed"], closing["ms_per_week"], ""])
    print_table(["threads", "step", "n", "p50 ms", "p95 ms"], step_rows)
    print()
    print_table(
        ["sweep scan", "tenants", "found", "p50 ms", "p95 ms", "max ms"],
        [
            [name, s["tenants"], s["tenants_found"], s["p50"] * 1000, s["p95"] * 1000, s["max"] * 1000]
            for name, s in scan.items()
        ],
    )
    print()
    print(
        f"sanity: {races['pairs']} double approvals {races['outcomes']}; "
        f"ledger {'OK' if check['ok'] else 'BROKEN'}: {check['transactions']} transactions, "
        f"{check['entries']} entries, timesheets {check['timesheets']}, billed {check['billed_minor']}, "
        f"commission {check['commission_minor']} (verify {check['verify_seconds']:.2f} s)"
    )
    for line in races["failures"][:10] + check["problems"]:
        print(f"  problem: {line}")
    print(f"discarded {dropped} queued jobs of {SLUG} (no worker runs against the bench)")
    path = record(
        "hourly_flow",
        argv,
        {
            "environment": env,
            "population": {
                "clients": args.clients,
                "freelancers": args.freelancers,
                "contracts": args.contracts,
                "entries_per_day": args.entries_per_day,
                "build_seconds": pop.build_seconds,
                "now": now.isoformat(timespec="seconds"),
            },
            "log_time_runs": log_runs,
            "close_week": closing,
            "approve_runs": approve_runs,
            "sweep_scan": scan,
            "sanity": {"races": races, "ledger": check},
        },
    )
    print(f"results appended to {path}")
    failed = any(r["log_time"]["failed"] for r in log_runs) or any(
        r["approve"]["failed"] for r in approve_runs
    )
    failed = failed or closing["weeks_closed"] != len(pop.contracts)
    return 1 if failed or races["failures"] or not check["ok"] else 0


if __name__ == "__main__":
    sys.exit(main())
