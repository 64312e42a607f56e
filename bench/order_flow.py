"""Throughput and latency of the order flow's money steps, per worker process.

A bench tenant ``orderbench`` is rebuilt on every run (dropped and provisioned
again, so every run starts from the same table sizes) with ``--sellers``
sellers, one active gig each (basic package 50.00 USD, 10 % commission), and
``--buyers`` buyers, each with an API token and a logged-in web session. The
steps then run through the whole app in this process (WSGI test clients:
routing, host resolution, auth, ``@idempotent``, the services, PostgreSQL,
the after-commit event enqueue to Redis), with ``--threads`` threads at once,
like one gthread worker:

- **order -> paid**: ``POST /api/v1/orders`` (Idempotency-Key) -> the
  sandbox checkout page (``GET /checkout/sandbox/<id>``) -> paying it with
  4242 4242 4242 4242 (``POST``, the form's idempotency key);
- the work, timed but not the point: ``POST .../requirements`` (buyer) and
  ``POST .../deliveries`` (seller);
- **completion -> released**: ``POST /api/v1/orders/<id>/complete``
  (Idempotency-Key): escrow released to the seller minus the commission.

``--warmup`` orders (default 30) go through every step first, unmeasured, as a served worker
is warm (Jinja templates compiled, psycopg's statements prepared after their fifth run on a
connection, SQLAlchemy's compiled statements and the tenant caches filled); ``--warmup 0``
measures from a cold start, as runs before 5 December 2026 did.

Every response is checked (status, order status, escrow); a failed step is
counted and makes the run exit 1. Throughput is completed operations per
second of wall time for the phase; latencies are per step (p50/p95, ms).

Afterwards a concurrency sanity check: pairs of threads pay the same checkout
and complete the same order at once with different keys (exactly one
completion wins, the other gets 409; one payment is escrowed), then the
ledger must verify (``verify()``: every transaction balances, cached balances
equal the entries, escrow = paid - released - refunded) and its totals must
match the orders: clearing = everything paid, commission + sellers' pending =
everything released, no escrow left on completed orders.

    .venv/bin/python -m bench.order_flow [--threads 1,2,4] [--orders 150] [--warmup 30] [--sellers 200]
                                         [--buyers 400] [--calls 50]

``--calls N`` also counts the Python function calls of N more orders per operation under
cProfile in one thread: a count of the CPU work that the machine's neighbours do not move.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import sys
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench._common import (
    Services,
    add_service_args,
    ensure_public_schema,
    environment,
    make_app,
    percentile,
    print_table,
    record,
)

SLUG = "orderbench"
PASSWORD = "bench-password-123"  # noqa: S105  (bench users only)
PRICE = 5000  # basic package, minor units
COMMISSION_BPS, MIN_FEE = 1000, 100
FEE = max(PRICE * COMMISSION_BPS // 10000, MIN_FEE)
CARD = {"card_number": "4242 4242 4242 4242", "expiry": "12/40", "cvc": "123"}
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
IDEM_RE = re.compile(r'name="idempotency_key" value="([^"]+)"')


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.order_flow", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="1,2,4", help="comma-separated thread counts to measure")
    parser.add_argument("--orders", type=int, default=150, help="orders per thread count")
    parser.add_argument(
        "--warmup",
        type=int,
        default=30,
        help="orders taken through every step first, one thread, unmeasured (a served worker is warm: "
        "templates compiled, statements prepared, caches filled); 0: measure from a cold start",
    )
    parser.add_argument("--sellers", type=int, default=200, help="sellers, one gig each")
    parser.add_argument("--buyers", type=int, default=400, help="buyers (each with a web session)")
    parser.add_argument("--races", type=int, default=20, help="orders raced in the sanity check")
    parser.add_argument(
        "--calls",
        type=int,
        default=0,
        help="also count Python function calls per operation over this many orders, one thread, "
        "under cProfile (the CPU work, independent of the machine's noise); 0: skip",
    )
    parser.add_argument(
        "--profile-dir",
        help="with --calls: also write the two phases' profiles there "
        "(order_to_paid.pstats, complete_to_released.pstats; read them with python -m pstats)",
    )
    add_service_args(parser)
    args = parser.parse_args(argv)
    args.thread_counts = [int(n) for n in args.threads.split(",") if n.strip()]
    if not args.thread_counts or min(args.thread_counts) < 1 or args.buyers < max(args.thread_counts):
        parser.error("--threads must be positive and --buyers at least the largest thread count")
    return args


class StepFailed(Exception):
    pass


@dataclass
class Buyer:
    id: int
    email: str
    auth: dict
    client: object = None  # a FlaskClient holding this buyer's web session
    csrf: str = ""


@dataclass
class Population:
    tenant: object
    host: str
    buyers: list[Buyer]
    seller_auth: dict  # seller id -> Authorization header
    gigs: list[tuple[int, int]]  # (gig id, seller id)
    build_seconds: float = 0.0


@dataclass
class Timings:
    steps: dict = field(default_factory=lambda: defaultdict(list))
    failures: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, step: str, seconds: float) -> None:
        with self.lock:
            self.steps[step].append(seconds)

    def fail(self, message: str) -> None:
        with self.lock:
            self.failures.append(message)


# --------------------------------------------------------------------------- the population


def _gig_data(n: int, category_id: int) -> dict:
    return {
        "title": f"I will draw bench illustration number {n}",
        "description": "A clean illustration for the order flow benchmark.",
        "category_id": category_id,
        "tags": ["illustration"],
        "packages": [
            {
                "tier": "basic",
                "title": "Basic",
                "description": "One drawing",
                "price_minor": PRICE,
                "delivery_days": 3,
                "revisions": 1,
                "features": ["1 drawing"],
            }
        ],
    }


def build_population(app, args, slug: str = SLUG) -> Population:
    """Drop and provision ``slug`` (``orderbench``) with sellers, gigs and buyers (through the services)."""
    import sqlalchemy as sa
    from flask import current_app

    from app.accounts.services import create_user, upsert_seller_profile
    from app.accounts.tokens import issue_token_pair
    from app.gigs import services as gigs
    from app.gigs.models import Category
    from app.settings.models import MarketplaceSettings
    from tenants.db import db, tenant_context
    from tenants.provisioning import create_tenant, drop_tenant
    from tenants.resolver import get_tenant_by_slug

    started = time.perf_counter()
    previous = get_tenant_by_slug(slug)
    if previous is not None:
        discard_queued_jobs(previous.id)  # e.g. left by an interrupted run
        drop_tenant(slug)
    base_domain = current_app.config["BASE_DOMAIN"]
    tenant = create_tenant(slug, "Order Bench", base_domain=base_domain, options={}).tenant
    host = f"{slug}.{base_domain}"
    sellers, gig_rows, buyers = {}, [], []
    with tenant_context(tenant):
        settings = db.session.get(MarketplaceSettings, 1)
        settings.payment_provider = "sandbox"
        settings.commission_bps, settings.commission_min_fee_minor = COMMISSION_BPS, MIN_FEE
        # The bench posts the login and checkout forms as a script would: no bot check here.
        settings.bot_protection = "off"
        category_id = db.session.scalar(
            sa.select(Category.id).where(Category.parent_id.is_not(None)).order_by(Category.id).limit(1)
        )
        db.session.commit()
        verified = datetime.now(UTC)
        for n in range(1, args.sellers + 1):
            seller = create_user(f"seller{n}@{slug}.test", PASSWORD, f"Seller {n}")
            seller.email_verified_at = verified  # publishing and buying need a confirmed address
            upsert_seller_profile(seller, headline="Illustrator")
            gig = gigs.create_gig(seller, _gig_data(n, category_id))
            gigs.publish_gig(seller, gig)
            if gig.status != "active":
                sys.exit(f"gig of seller {n} is {gig.status} after publishing (gig approval on?)")
            sellers[seller.id] = {"Authorization": f"Bearer {issue_token_pair(seller)['access_token']}"}
            gig_rows.append((gig.id, seller.id))
            if n % 50 == 0:
                db.session.commit()
        for n in range(1, args.buyers + 1):
            buyer = create_user(f"buyer{n}@{slug}.test", PASSWORD, f"Buyer {n}")
            buyer.email_verified_at = verified
            token = issue_token_pair(buyer)["access_token"]
            buyers.append(Buyer(buyer.id, buyer.email, {"Authorization": f"Bearer {token}"}))
            if n % 100 == 0:
                db.session.commit()
        db.session.commit()
    population = Population(tenant, host, buyers, sellers, gig_rows)
    population.build_seconds = time.perf_counter() - started
    return population


def log_in_buyers(app, population: Population) -> None:
    """A web session per buyer (outside any app context: each request pushes its own, as served)."""
    started = time.perf_counter()
    for buyer in population.buyers:
        _log_in(app, population, buyer)
    population.build_seconds += time.perf_counter() - started


def _open(client, host: str, method: str, path: str, **kwargs):
    return client.open(path, method=method, base_url=f"http://{host}/", **kwargs)


def _csrf(html: str) -> str:
    match = CSRF_RE.search(html)
    if not match:
        raise StepFailed("no csrf_token on the page")
    return match.group(1) or match.group(2)


def _log_in(app, population: Population, buyer: Buyer) -> None:
    client = app.test_client()
    page = _open(client, population.host, "GET", "/login")
    response = _open(
        client,
        population.host,
        "POST",
        "/login",
        data={"csrf_token": _csrf(page.get_data(as_text=True)), "email": buyer.email, "password": PASSWORD},
    )
    if response.status_code != 302:
        raise StepFailed(f"login of {buyer.email}: {response.status_code}")
    # Every signed-in page carries the session's CSRF token (the log-out form).
    buyer.csrf = _csrf(_open(client, population.host, "GET", "/orders").get_data(as_text=True))
    buyer.client = client


# --------------------------------------------------------------------------- the steps


def _timed(timings: Timings, step: str, call):
    started = time.perf_counter()
    result = call()
    timings.add(step, time.perf_counter() - started)
    return result


def _expect(response, status: int, what: str):
    if response.status_code != status:
        body = response.get_data(as_text=True)[:300]
        raise StepFailed(f"{what}: HTTP {response.status_code} (expected {status}): {body}")
    return response


def order_and_pay(pop: Population, api, buyer: Buyer, gig: tuple[int, int], timings: Timings) -> int:
    """Place an order through the API, open its checkout page and pay it; returns the order id."""
    started = time.perf_counter()
    placed = _timed(
        timings,
        "place (API)",
        lambda: _open(
            api,
            pop.host,
            "POST",
            "/api/v1/orders",
            json={"gig_id": gig[0], "tier": "basic", "total_minor": PRICE, "currency": "USD"},
            headers={**buyer.auth, "Idempotency-Key": uuid.uuid4().hex},
        ),
    )
    body = _expect(placed, 201, "place").json
    checkout = body["checkout_url"]
    if not checkout or not checkout.startswith("/checkout/sandbox/"):
        raise StepFailed(f"place: no sandbox checkout ({checkout!r})")
    page = _timed(timings, "checkout page", lambda: _open(buyer.client, pop.host, "GET", checkout))
    key = IDEM_RE.search(_expect(page, 200, "checkout page").get_data(as_text=True))
    if key is None:
        raise StepFailed("checkout page: no idempotency key")
    paid = _timed(
        timings,
        "pay (sandbox form)",
        lambda: _open(
            buyer.client,
            pop.host,
            "POST",
            checkout,
            data={"csrf_token": buyer.csrf, "idempotency_key": key.group(1), **CARD},
        ),
    )
    _expect(paid, 302, "pay")
    if not paid.headers["Location"].endswith(f"/orders/{body['id']}"):
        raise StepFailed(f"pay: redirected to {paid.headers['Location']}")
    timings.add("order -> paid", time.perf_counter() - started)
    return body["id"]


def do_the_work(
    pop: Population, api, buyer: Buyer, seller_auth: dict, order_id: int, timings: Timings
) -> None:
    r = _timed(
        timings,
        "requirements (API)",
        lambda: _open(
            api,
            pop.host,
            "POST",
            f"/api/v1/orders/{order_id}/requirements",
            json={"requirements": "A fox, please."},
            headers=buyer.auth,
        ),
    )
    _expect(r, 200, "requirements")
    r = _timed(
        timings,
        "deliver (API)",
        lambda: _open(
            api,
            pop.host,
            "POST",
            f"/api/v1/orders/{order_id}/deliveries",
            json={"message": "Here it is."},
            headers=seller_auth,
        ),
    )
    _expect(r, 201, "deliver")


def complete(pop: Population, api, buyer: Buyer, order_id: int, timings: Timings, key: str | None = None):
    r = _timed(
        timings,
        "complete -> released (API)",
        lambda: _open(
            api,
            pop.host,
            "POST",
            f"/api/v1/orders/{order_id}/complete",
            json={},
            headers={**buyer.auth, "Idempotency-Key": key or uuid.uuid4().hex},
        ),
    )
    return r


def _check_completed(response) -> None:
    body = _expect(response, 200, "complete").json
    money = body["money"]
    if body["status"] != "completed" or money["escrow_minor"] != 0 or money["released_minor"] != PRICE:
        raise StepFailed(f"complete: {body['status']}, money {money}")


# --------------------------------------------------------------------------- phases


class SqlCounter:
    """Statements sent to PostgreSQL by this process (all threads), and the seconds spent in the
    ledger's posting statement (its accounts' upsert, ``INSERT INTO ... ledger_accounts``, locks
    the accounts it moves, so its time is mostly the wait for another posting's locks on the same
    rows)."""

    def __init__(self):
        self.count = 0
        self.ledger_s = 0.0
        self.lock = threading.Lock()

    def install(self, engine) -> None:
        import sqlalchemy as sa

        sa.event.listen(engine, "before_cursor_execute", self._count)
        sa.event.listen(engine, "after_cursor_execute", self._timed)

    def _count(self, conn, cursor, statement, parameters, context, executemany) -> None:
        with self.lock:
            self.count += 1
        if ".ledger_accounts (" in statement and statement.startswith(("INSERT INTO", "WITH")):
            conn.info["ledger_upsert_started"] = time.perf_counter()

    def _timed(self, conn, cursor, statement, parameters, context, executemany) -> None:
        started = conn.info.pop("ledger_upsert_started", None)
        if started is not None:
            elapsed = time.perf_counter() - started
            with self.lock:
                self.ledger_s += elapsed


SQL = SqlCounter()


def run_phase(chunks: list[list], work) -> dict:
    """Thread ``i`` runs ``work(i, item)`` over ``chunks[i]``, all at once.

    Returns wall seconds, failed items, this process's CPU seconds (all threads: near
    ``wall_s`` means the phase is bound by this process's CPU and the GIL) and SQL statements.
    """
    failures = 0
    lock = threading.Lock()

    def run(index: int) -> None:
        nonlocal failures
        for item in chunks[index]:
            try:
                work(index, item)
            except Exception as exc:  # a failed step is reported, the run goes on
                with lock:
                    failures += 1
                    if failures <= 5:
                        print(f"    step failed: {exc!r}"[:400], flush=True)

    started, cpu, sql, ledger_s = time.perf_counter(), time.process_time(), SQL.count, SQL.ledger_s
    with ThreadPoolExecutor(len(chunks)) as pool:
        list(pool.map(run, range(len(chunks))))
    return {
        "wall_s": time.perf_counter() - started,
        "failed": failures,
        "cpu_s": time.process_time() - cpu,
        "sql": SQL.count - sql,
        "ledger_s": SQL.ledger_s - ledger_s,
    }


def measure(app, pop: Population, threads: int, orders: int, gig_cycle) -> dict:
    """One thread count: order -> paid, the work, completion -> released."""
    timings = Timings()
    groups = [pop.buyers[i::threads] for i in range(threads)]  # a buyer's session stays in one thread
    cycles = [itertools.cycle(group) for group in groups]
    apis = [app.test_client(use_cookies=False) for _ in range(threads)]
    plan = [next(gig_cycle) for _ in range(orders)]
    placed: list[tuple[int, Buyer, tuple]] = []
    placed_lock = threading.Lock()

    def order_step(index, gig):
        buyer = next(cycles[index])
        order_id = order_and_pay(pop, apis[index], buyer, gig, timings)
        with placed_lock:
            placed.append((order_id, buyer, gig))

    paid = run_phase([plan[i::threads] for i in range(threads)], order_step)
    chunks = [placed[i::threads] for i in range(threads)]  # bearer tokens: any thread may serve them
    work = run_phase(
        chunks,
        lambda index, p: do_the_work(pop, apis[index], p[1], pop.seller_auth[p[2][1]], p[0], timings),
    )
    done = run_phase(
        chunks, lambda index, p: _check_completed(complete(pop, apis[index], p[1], p[0], timings))
    )
    for phase, ops in ((paid, len(placed)), (work, len(placed)), (done, len(placed) - done["failed"])):
        phase.update(
            ops=ops,
            ops_per_s=ops / phase["wall_s"],
            cpu_ms_per_op=phase["cpu_s"] * 1000 / max(ops, 1),
            sql_per_op=phase["sql"] / max(ops, 1),
            ledger_ms_per_op=phase["ledger_s"] * 1000 / max(ops, 1),
        )
    steps = {
        name: {
            "n": len(values),
            "p50_ms": percentile(values, 50) * 1000,
            "p95_ms": percentile(values, 95) * 1000,
        }
        for name, values in timings.steps.items()
    }
    return {
        "threads": threads,
        "orders": orders,
        "order_to_paid": paid,
        "work": work,
        "complete_to_released": done,
        "steps": steps,
    }


def count_calls(app, pop: Population, orders: int, gig_cycle, profile_dir: str | None = None) -> dict:
    """Python function calls per operation (cProfile's count, primitive and recursive), over
    ``orders`` orders in this thread: the same request sequence always makes the same calls
    give or take a few, so this compares code, where ops/s on a shared machine compare its
    neighbours. The work steps between the two phases are not counted. ``profile_dir``: the two
    phases' profiles are written there too."""
    import cProfile
    import pstats

    timings = Timings()
    api = app.test_client(use_cookies=False)
    buyers = itertools.cycle(pop.buyers)

    def calls_of(run, name: str) -> int:
        profile = cProfile.Profile()
        profile.enable()
        try:
            run()
        finally:
            profile.disable()
        if profile_dir:
            Path(profile_dir).mkdir(parents=True, exist_ok=True)
            profile.dump_stats(Path(profile_dir) / f"{name}.pstats")
        return pstats.Stats(profile).total_calls

    placed: list[tuple[int, Buyer, tuple]] = []

    def pay_all():
        for _ in range(orders):
            buyer, gig = next(buyers), next(gig_cycle)
            placed.append((order_and_pay(pop, api, buyer, gig, timings), buyer, gig))

    paid = calls_of(pay_all, "order_to_paid")
    for order_id, buyer, gig in placed:
        do_the_work(pop, api, buyer, pop.seller_auth[gig[1]], order_id, timings)
    done = calls_of(
        lambda: [_check_completed(complete(pop, api, b, o, timings)) for o, b, _g in placed],
        "complete_to_released",
    )
    return {"orders": orders, "order_to_paid": paid / orders, "complete_to_released": done / orders}


# --------------------------------------------------------------------------- sanity


def race_check(app, pop: Population, count: int, gig_cycle) -> dict:
    """Pairs of threads pay one checkout at once, then complete one order at once (different keys)."""
    timings = Timings()
    api = app.test_client(use_cookies=False)
    buyers = pop.buyers[:count]
    results = {"pay_pairs": 0, "complete_pairs": 0, "complete_outcomes": defaultdict(int)}
    for buyer in buyers:
        gig = next(gig_cycle)
        placed = _expect(
            _open(
                api,
                pop.host,
                "POST",
                "/api/v1/orders",
                json={"gig_id": gig[0], "tier": "basic"},
                headers={**buyer.auth, "Idempotency-Key": uuid.uuid4().hex},
            ),
            201,
            "race: place",
        ).json
        checkout = placed["checkout_url"]
        # Two tabs of the checkout (two sessions of the buyer): two forms, two keys, sent at once.
        tabs = [buyer, Buyer(buyer.id, buyer.email, buyer.auth)]
        _log_in(app, pop, tabs[1])
        forms = []
        for tab in tabs:
            html = _expect(_open(tab.client, pop.host, "GET", checkout), 200, "race: page").get_data(
                as_text=True
            )
            forms.append({"csrf_token": tab.csrf, "idempotency_key": IDEM_RE.search(html).group(1), **CARD})
        barrier = threading.Barrier(2)

        def pay(i, tabs=tabs, forms=forms, checkout=checkout, barrier=barrier):
            barrier.wait()
            return _open(tabs[i].client, pop.host, "POST", checkout, data=forms[i]).status_code

        with ThreadPoolExecutor(2) as pool:
            statuses = sorted(pool.map(pay, range(2)))
        results["pay_pairs"] += 1
        # Both answers may be the paid redirect (the second finds it paid) or one a 409; never two payments.
        if statuses not in ([302, 302], [302, 409]):
            timings.fail(f"race pay statuses {statuses}")
        do_the_work(pop, api, buyer, pop.seller_auth[gig[1]], placed["id"], timings)
        barrier = threading.Barrier(2)
        clients = [app.test_client(use_cookies=False) for _ in range(2)]

        def finish(i, clients=clients, barrier=barrier, buyer=buyer, placed=placed):
            barrier.wait()
            return complete(pop, clients[i], buyer, placed["id"], timings).status_code

        with ThreadPoolExecutor(2) as pool:
            outcome = tuple(sorted(pool.map(finish, range(2))))
        results["complete_pairs"] += 1
        results["complete_outcomes"][str(outcome)] += 1
        if outcome != (200, 409):
            timings.fail(f"race complete statuses {outcome}")
    results["complete_outcomes"] = dict(results["complete_outcomes"])
    results["failures"] = timings.failures
    return results


def ledger_check(pop: Population) -> dict:
    """verify() and the ledger's totals against the orders."""
    import sqlalchemy as sa

    from app.ledger import services as ledger
    from app.ledger.models import LedgerAccount, LedgerTransaction
    from app.ledger.verify import verify
    from app.orders.models import Order
    from tenants.db import db, tenant_context

    with tenant_context(pop.tenant):
        report = verify()
        paid = db.session.scalar(sa.select(sa.func.count()).where(Order.paid_at.is_not(None)))
        completed = db.session.scalar(sa.select(sa.func.count()).where(Order.status == "completed"))
        kinds = dict(
            db.session.execute(
                sa.select(LedgerTransaction.kind, sa.func.count()).group_by(LedgerTransaction.kind)
            ).all()
        )
        clearing = ledger.account_balance(ledger.CLEARING, "USD")
        commission = ledger.account_balance(ledger.COMMISSION, "USD")
        pending = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(LedgerAccount.balance_minor), 0)).where(
                LedgerAccount.kind == "seller_pending"
            )
        )
        escrow_left = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(LedgerAccount.balance_minor), 0)).where(
                LedgerAccount.kind == "escrow"
            )
        )
        db.session.rollback()
    problems = list(report.problems)
    if kinds.get("payment", 0) != paid:
        problems.append(f"{kinds.get('payment', 0)} payment transactions for {paid} paid orders")
    if kinds.get("release", 0) != completed:
        problems.append(f"{kinds.get('release', 0)} release transactions for {completed} completed orders")
    if clearing != paid * PRICE:
        problems.append(f"clearing {clearing} != {paid} x {PRICE}")
    if commission != completed * FEE or commission + pending != completed * PRICE:
        problems.append(f"commission {commission} + pending {pending} != {completed} x {PRICE} (fee {FEE})")
    if escrow_left != (paid - completed) * PRICE:
        problems.append(f"escrow {escrow_left} != {(paid - completed)} x {PRICE} still in progress")
    return {
        "ok": report.ok and not problems,
        "problems": problems[:20],
        "transactions": report.transactions,
        "entries": report.entries,
        "paid_orders": paid,
        "completed_orders": completed,
        "verify_seconds": report.seconds,
    }


def discard_queued_jobs(tenant_id: int) -> int:
    """Drop the bench tenant's queued jobs (event deliveries) from the bench Redis: no
    worker runs here, and they would pile up run after run. Tenant ids are never reused."""
    from rq.job import Job

    from app.extensions import get_queue, redis_store

    dropped = 0
    for name in ("events", "default"):
        queue = get_queue(name)
        ids = queue.get_job_ids()
        for start in range(0, len(ids), 500):
            for job in Job.fetch_many(ids[start : start + 500], connection=redis_store.client):
                if job is not None and job.args and job.args[0] == tenant_id:
                    job.delete()
                    dropped += 1
    return dropped


# --------------------------------------------------------------------------- main


def populated_app(args, slug: str = SLUG) -> tuple:
    """``(app, environment, population)``: the bench's app (cheap hashing, no login limit) on
    ``args``' services, with ``slug`` rebuilt (``build_population``)."""
    services = Services(args)
    # Many buyers log in from one address: the per-IP login limit would refuse them.
    app = make_app(services, "cheap", RATELIMIT_ENABLED=False)
    with app.app_context():
        ensure_public_schema()
        env = environment(services)
        print(f"building {slug}: {args.sellers} sellers, a gig each, {args.buyers} buyers ...", flush=True)
        pop = build_population(app, args, slug)
    return app, env, pop


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    app, env, pop = populated_app(args)
    with app.app_context():
        from app.core.unit_of_work import apart_engine
        from tenants.db import db

        SQL.install(db.engine)
        SQL.install(apart_engine())  # bookkeeping written apart (a refused request's last use) counts too
    # The requests run outside this app context, each in its own, like a served request.
    log_in_buyers(app, pop)
    print(f"  built in {pop.build_seconds:.1f} s", flush=True)
    gig_cycle = itertools.cycle(pop.gigs)
    warmup_failed = 0
    if args.warmup:
        print(f"warm-up: {args.warmup} orders, unmeasured ...", flush=True)
        warmup = measure(app, pop, 1, args.warmup, gig_cycle)
        warmup_failed = sum(warmup[p]["failed"] for p in ("order_to_paid", "work", "complete_to_released"))
    runs = []
    for threads in args.thread_counts:
        print(f"threads={threads}: {args.orders} orders ...", flush=True)
        runs.append(measure(app, pop, threads, args.orders, gig_cycle))
    calls = count_calls(app, pop, args.calls, gig_cycle, args.profile_dir) if args.calls else None
    print(f"sanity: {args.races} orders paid twice and completed twice at once ...", flush=True)
    races = race_check(app, pop, min(args.races, len(pop.buyers)), gig_cycle)
    with app.app_context():
        check = ledger_check(pop)
        dropped = discard_queued_jobs(pop.tenant.id)
        env["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)

    print()
    rows = []
    phases = (("order_to_paid", "order -> paid"), ("complete_to_released", "complete -> released"))
    for run in runs:
        for phase, label in phases:
            d = run[phase]
            rows.append(
                [
                    run["threads"],
                    label,
                    d["ops"],
                    d["wall_s"],
                    d["ops_per_s"],
                    d["cpu_ms_per_op"],
                    d["sql_per_op"],
                    d["ledger_ms_per_op"],
                    d["failed"],
                ]
            )
    # ledger ms/op: time in the posting statement (mostly waiting for the hot accounts' row locks)
    print_table(
        ["threads", "operation", "ops", "wall s", "ops/s", "cpu ms/op", "sql/op", "ledger ms/op", "failed"],
        rows,
    )
    print()
    # The statements per operation, on their own line: the count that must not creep back
    # (tests/payments/test_money_path_statements.py holds a ceiling; docs/design/performance.md).
    for run in runs:
        parts = [
            f"{label}: {run[phase]['sql_per_op']:.1f} SQL/op, {run[phase]['ops_per_s']:.1f} ops/s"
            for phase, label in phases
        ]
        print(f"threads={run['threads']}  " + "; ".join(parts))
    print()
    step_rows = [
        [run["threads"], name, s["n"], s["p50_ms"], s["p95_ms"]]
        for run in runs
        for name, s in run["steps"].items()
    ]
    print_table(["threads", "step", "n", "p50 ms", "p95 ms"], step_rows)
    print()
    if calls:
        print(
            f"Python function calls per operation ({calls['orders']} orders, one thread, cProfile): "
            f"order -> paid {calls['order_to_paid']:,.0f}; complete -> released "
            f"{calls['complete_to_released']:,.0f}"
        )
        print()
    print(
        f"sanity: {races['pay_pairs']} double payments, {races['complete_pairs']} double completions "
        f"{races['complete_outcomes']}; ledger {'OK' if check['ok'] else 'BROKEN'}: "
        f"{check['transactions']} transactions, {check['entries']} entries, "
        f"{check['paid_orders']} paid / {check['completed_orders']} completed orders "
        f"(verify {check['verify_seconds']:.2f} s)"
    )
    for line in races["failures"][:10] + check["problems"]:
        print(f"  problem: {line}")
    print(f"discarded {dropped} queued jobs of {SLUG} (no worker runs against the bench)")
    path = record(
        "order_flow",
        argv,
        {
            "environment": env,
            "warmup_orders": args.warmup,
            "population": {
                "sellers": args.sellers,
                "buyers": args.buyers,
                "build_seconds": pop.build_seconds,
            },
            "runs": runs,
            "calls_per_op": calls,
            "sanity": {"races": races, "ledger": check},
        },
    )
    print(f"results appended to {path}")
    failed = any(run[p]["failed"] for run in runs for p in ("order_to_paid", "complete_to_released"))
    failed = failed or warmup_failed or any(run["work"]["failed"] for run in runs)
    return 1 if failed or races["failures"] or not check["ok"] else 0


if __name__ == "__main__":
    sys.exit(main())
