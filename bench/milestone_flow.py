"""Milestone escrow throughput per worker process (fund -> submit -> accept), beside the order flow.

A bench tenant ``milestonebench`` is rebuilt on every run like ``orderbench``
(``bench.order_flow.build_population``: ``--sellers`` sellers with a gig each, ``--buyers``
buyers with an API token and a logged-in web session; sandbox payments, 10 % commission). For
each thread count, ``--contracts`` custom offers with three milestones (100.00, 200.00 and
150.00 USD: an offer has at most three) are sent and accepted through the services (setup,
not timed): orders awaiting their first funding. Then, through the whole app in this process
(WSGI test clients, as ``bench.order_flow``), with ``--threads`` threads at once, milestone
after milestone:

- **fund -> funded**: ``POST /api/v1/orders/<id>/milestones/<m>/fund`` (Idempotency-Key) ->
  the sandbox checkout page of that milestone -> paying it with 4242 4242 4242 4242 (the
  payment posts to the milestone's own escrow; the first one starts the order);
- the buyer's requirements, once per order after the first funding (timed, not the point);
- **submit**: ``POST .../submit`` by the seller (message and a link);
- **accept -> released**: ``POST .../accept`` (Idempotency-Key): the milestone's escrow is
  released to the seller minus commission, ``paid``; the third completes the order.

A "milestone cycle" is the three steps of one milestone; cycles/s = milestones paid / the wall
time of their fund, submit and accept phases. Every response is checked (status, milestone
state, escrow). Beside it, in the same run and on the same population (same load, same
process), ``bench.order_flow``'s order -> paid and complete -> released with the same thread
counts (``--orders``; 0 skips them).

Afterwards a sanity check: pairs of threads accept the same submitted milestone at once with
different keys (exactly one 200 and one 409, released once), then the ledger must verify and
its totals match the milestones: one payment per funded milestone, one release per paid one,
clearing = everything funded, commission + sellers' pending = everything released, escrow =
funded but not released.

    .venv/bin/python -m bench.milestone_flow [--threads 1,2,4] [--contracts 50] [--orders 150]
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
from dataclasses import dataclass

from bench import order_flow
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
from bench.order_flow import (
    CARD,
    IDEM_RE,
    SQL,
    Buyer,
    Population,
    StepFailed,
    Timings,
    _expect,
    _open,
    _timed,
    run_phase,
)

SLUG = "milestonebench"
AMOUNTS = (10_000, 20_000, 15_000)  # minor units: one offer, three milestones


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.milestone_flow", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="1,2,4", help="comma-separated thread counts to measure")
    parser.add_argument(
        "--contracts", type=int, default=50, help="offers of three milestones per thread count"
    )
    parser.add_argument(
        "--orders", type=int, default=150, help="order_flow orders per thread count (0: skip)"
    )
    parser.add_argument("--sellers", type=int, default=200, help="sellers, one gig each")
    parser.add_argument("--buyers", type=int, default=400, help="buyers (each with a web session)")
    parser.add_argument("--races", type=int, default=20, help="milestones accepted twice at once")
    add_service_args(parser)
    args = parser.parse_args(argv)
    args.thread_counts = [int(n) for n in args.threads.split(",") if n.strip()]
    if not args.thread_counts or min(args.thread_counts) < 1 or args.buyers < max(args.thread_counts):
        parser.error("--threads must be positive and --buyers at least the largest thread count")
    return args


@dataclass
class Contract:
    order_id: int
    milestone_ids: list[int]
    buyer: Buyer
    seller_id: int


# --------------------------------------------------------------------------- setup


def open_contracts(pop: Population, count: int, buyers: list[Buyer], sellers) -> list[Contract]:
    """``count`` accepted offers of three milestones (services, committed): orders awaiting funding."""
    from app.accounts.models import User
    from app.messaging.services import start_direct_conversation
    from app.orders import services
    from app.orders.models import Order
    from tenants.db import db, tenant_context

    contracts = []
    with tenant_context(pop.tenant):
        for n in range(count):
            buyer, seller_id = buyers[n % len(buyers)], next(sellers)
            conversation = start_direct_conversation(db.session.get(User, buyer.id), seller_id)
            offer = services.send_offer(
                db.session.get(User, seller_id),
                conversation.id,
                {
                    "title": "Brand kit in three parts",
                    "description": "Logo, cards and a style guide, one milestone each.",
                    "total_minor": sum(AMOUNTS),
                    "delivery_days": 14,
                    "milestones": [
                        {"title": title, "amount_minor": amount}
                        for title, amount in zip(("Logo", "Cards", "Style guide"), AMOUNTS, strict=True)
                    ],
                },
            )
            order = services.accept_offer(db.session.get(User, buyer.id), offer.id)
            db.session.flush()
            ids = [m.id for m in sorted(db.session.get(Order, order.id).milestones, key=lambda m: m.seq)]
            contracts.append(Contract(order.id, ids, buyer, seller_id))
            if n % 50 == 49:
                db.session.commit()
        db.session.commit()
    return contracts


# --------------------------------------------------------------------------- the steps


def _base(contract: Contract, seq: int) -> str:
    return f"/api/v1/orders/{contract.order_id}/milestones/{contract.milestone_ids[seq]}"


def fund(pop: Population, api, contract: Contract, seq: int, timings: Timings) -> None:
    """Fund a milestone through the API, open its sandbox checkout page and pay it."""
    buyer = contract.buyer
    started = time.perf_counter()
    funded = _timed(
        timings,
        "fund (API)",
        lambda: _open(
            api,
            pop.host,
            "POST",
            f"{_base(contract, seq)}/fund",
            json={},
            headers={**buyer.auth, "Idempotency-Key": uuid.uuid4().hex},
        ),
    )
    body = _expect(funded, 200, "fund").json
    checkout = body.get("checkout_url")
    if body["status"] != "funding_required" or not checkout or not checkout.startswith("/checkout/sandbox/"):
        raise StepFailed(f"fund: {body['status']}, checkout {checkout!r}")
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
    timings.add("fund -> funded", time.perf_counter() - started)


def requirements(pop: Population, api, contract: Contract, timings: Timings) -> None:
    r = _timed(
        timings,
        "requirements (API)",
        lambda: _open(
            api,
            pop.host,
            "POST",
            f"/api/v1/orders/{contract.order_id}/requirements",
            json={"requirements": "Navy and gold, please."},
            headers=contract.buyer.auth,
        ),
    )
    _expect(r, 200, "requirements")


def submit(pop: Population, api, contract: Contract, seq: int, timings: Timings) -> None:
    r = _timed(
        timings,
        "submit (API)",
        lambda: _open(
            api,
            pop.host,
            "POST",
            f"{_base(contract, seq)}/submit",
            json={"message": f"Part {seq + 1} is ready.", "links": ["https://example.com/work"]},
            headers={**pop.seller_auth[contract.seller_id], "Idempotency-Key": uuid.uuid4().hex},
        ),
    )
    body = _expect(r, 200, "submit").json
    if body["status"] != "submitted":
        raise StepFailed(f"submit: {body['status']}")


def accept(pop: Population, api, contract: Contract, seq: int, timings: Timings, key: str | None = None):
    return _timed(
        timings,
        "accept -> released (API)",
        lambda: _open(
            api,
            pop.host,
            "POST",
            f"{_base(contract, seq)}/accept",
            json={},
            headers={**contract.buyer.auth, "Idempotency-Key": key or uuid.uuid4().hex},
        ),
    )


def _check_paid(response, seq: int) -> None:
    body = _expect(response, 200, "accept").json
    if body["status"] != "paid" or body["amount_minor"] != AMOUNTS[seq] or not body["paid_at"]:
        raise StepFailed(f"accept: {body['status']}, {body['amount_minor']}")


# --------------------------------------------------------------------------- phases


def measure(app, pop: Population, threads: int, contracts: list[Contract]) -> dict:
    """One thread count: every milestone of ``contracts`` funded, submitted and accepted, in order."""
    timings = Timings()
    apis = [app.test_client(use_cookies=False) for _ in range(threads)]
    # A buyer's web session stays in one thread (the checkout is paid with it).
    by_thread: list[list[Contract]] = [[] for _ in range(threads)]
    thread_of = {b.id: i % threads for i, b in enumerate(pop.buyers)}
    for contract in contracts:
        by_thread[thread_of[contract.buyer.id]].append(contract)
    phases: dict[str, list[dict]] = defaultdict(list)
    for seq in range(len(AMOUNTS)):
        phases["fund -> funded"].append(
            run_phase(by_thread, lambda i, c, seq=seq: fund(pop, apis[i], c, seq, timings))
        )
        if seq == 0:
            phases["requirements"].append(
                run_phase(by_thread, lambda i, c: requirements(pop, apis[i], c, timings))
            )
        phases["submit"].append(
            run_phase(by_thread, lambda i, c, seq=seq: submit(pop, apis[i], c, seq, timings))
        )
        phases["accept -> released"].append(
            run_phase(
                by_thread, lambda i, c, seq=seq: _check_paid(accept(pop, apis[i], c, seq, timings), seq)
            )
        )
    out: dict = {"threads": threads, "contracts": len(contracts), "milestones": len(contracts) * len(AMOUNTS)}
    for name, runs in phases.items():
        ops = sum(len(c) for c in by_thread) * len(runs)
        failed = sum(r["failed"] for r in runs)
        wall = sum(r["wall_s"] for r in runs)
        out[name] = {
            "ops": ops - failed,
            "failed": failed,
            "wall_s": wall,
            "ops_per_s": (ops - failed) / wall,
            "cpu_ms_per_op": sum(r["cpu_s"] for r in runs) * 1000 / max(ops, 1),
            "sql_per_op": sum(r["sql"] for r in runs) / max(ops, 1),
        }
    cycle_wall = sum(out[k]["wall_s"] for k in ("fund -> funded", "submit", "accept -> released"))
    paid = out["accept -> released"]["ops"]
    out["cycle"] = {"milestones_paid": paid, "wall_s": cycle_wall, "per_s": paid / cycle_wall}
    out["steps"] = {
        name: {"n": len(v), "p50_ms": percentile(v, 50) * 1000, "p95_ms": percentile(v, 95) * 1000}
        for name, v in timings.steps.items()
    }
    return out


# --------------------------------------------------------------------------- sanity


def race_check(app, pop: Population, contracts: list[Contract]) -> dict:
    """Each contract's first milestone funded and submitted, then accepted by two threads at once."""
    timings = Timings()
    api = app.test_client(use_cookies=False)
    outcomes: dict[str, int] = defaultdict(int)
    for contract in contracts:
        fund(pop, api, contract, 0, timings)
        requirements(pop, api, contract, timings)
        submit(pop, api, contract, 0, timings)
        barrier = threading.Barrier(2)
        clients = [app.test_client(use_cookies=False) for _ in range(2)]

        def both(i, clients=clients, barrier=barrier, contract=contract):
            barrier.wait()
            return accept(pop, clients[i], contract, 0, timings).status_code

        with ThreadPoolExecutor(2) as pool:
            outcome = tuple(sorted(pool.map(both, range(2))))
        outcomes[str(outcome)] += 1
        if outcome != (200, 409):
            timings.fail(f"race accept statuses {outcome}")
    return {"pairs": len(contracts), "outcomes": dict(outcomes), "failures": timings.failures}


def ledger_check(pop: Population) -> dict:
    """verify() and the ledger's totals against the milestones (gig orders' included)."""
    import sqlalchemy as sa

    from app.ledger import services as ledger
    from app.ledger.models import LedgerAccount, LedgerTransaction
    from app.ledger.verify import verify
    from app.orders import services
    from app.orders.models import Milestone
    from tenants.db import db, tenant_context

    with tenant_context(pop.tenant):
        report = verify()
        funded = db.session.execute(
            sa.select(Milestone.amount_minor, Milestone.status).where(Milestone.payment_ref.is_not(None))
        ).all()
        paid = [amount for amount, status in funded if status == "paid"]
        kinds = dict(
            db.session.execute(
                sa.select(LedgerTransaction.kind, sa.func.count()).group_by(LedgerTransaction.kind)
            ).all()
        )
        clearing = ledger.account_balance(ledger.CLEARING, "USD")
        commission = ledger.account_balance(ledger.COMMISSION, "USD")
        fees = sum(services.commission_for(amount) for amount in paid)

        def total(kind: str) -> int:
            return db.session.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(LedgerAccount.balance_minor), 0)).where(
                    LedgerAccount.kind == kind
                )
            )

        pending, escrow = total("seller_pending"), total("escrow")
        db.session.rollback()
    problems = list(report.problems)
    if kinds.get("payment", 0) != len(funded):
        problems.append(f"{kinds.get('payment', 0)} payment transactions for {len(funded)} funded milestones")
    if kinds.get("release", 0) != len(paid):
        problems.append(f"{kinds.get('release', 0)} release transactions for {len(paid)} paid milestones")
    if clearing != sum(a for a, _ in funded):
        problems.append(f"clearing {clearing} != {sum(a for a, _ in funded)} funded")
    if commission != fees or commission + pending != sum(paid):
        problems.append(f"commission {commission} (fees {fees}) + pending {pending} != {sum(paid)} released")
    if escrow != sum(a for a, _ in funded) - sum(paid):
        problems.append(f"escrow {escrow} != funded - released")
    return {
        "ok": report.ok and not problems,
        "problems": problems[:20],
        "transactions": report.transactions,
        "entries": report.entries,
        "funded_milestones": len(funded),
        "paid_milestones": len(paid),
        "verify_seconds": report.seconds,
    }


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    services = Services(args)
    app = make_app(services, "cheap", RATELIMIT_ENABLED=False)  # many buyers log in from one address
    with app.app_context():
        ensure_public_schema()
        env = environment(services)
        print(
            f"building {SLUG}: {args.sellers} sellers with a gig each, {args.buyers} buyers ...", flush=True
        )
        pop = order_flow.build_population(app, args, slug=SLUG)
        from tenants.db import db

        SQL.install(db.engine)
    order_flow.log_in_buyers(app, pop)
    print(f"  built in {pop.build_seconds:.1f} s", flush=True)
    sellers = itertools.cycle([seller_id for _gig, seller_id in pop.gigs])
    gig_cycle = itertools.cycle(pop.gigs)
    runs, order_runs = [], []
    for threads in args.thread_counts:
        with app.app_context():
            contracts = open_contracts(pop, args.contracts, pop.buyers, sellers)
        print(f"threads={threads}: {len(contracts)} contracts x {len(AMOUNTS)} milestones ...", flush=True)
        runs.append(measure(app, pop, threads, contracts))
        if args.orders:
            print(f"threads={threads}: {args.orders} orders (order_flow) ...", flush=True)
            order_runs.append(order_flow.measure(app, pop, threads, args.orders, gig_cycle))
    print(f"sanity: {args.races} milestones accepted twice at once ...", flush=True)
    with app.app_context():
        contracts = open_contracts(pop, args.races, pop.buyers[: args.races], sellers)
    races = race_check(app, pop, contracts)
    with app.app_context():
        check = ledger_check(pop)
        dropped = order_flow.discard_queued_jobs(pop.tenant.id)
        env["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)

    print()
    rows = []
    for run, orders in itertools.zip_longest(runs, order_runs):
        for name in ("fund -> funded", "submit", "accept -> released"):
            d = run[name]
            rows.append(
                [
                    run["threads"],
                    f"milestone {name}",
                    d["ops"],
                    d["wall_s"],
                    d["ops_per_s"],
                    d["cpu_ms_per_op"],
                ]
                + [d["sql_per_op"], d["failed"]]
            )
        c = run["cycle"]
        rows.append(
            [run["threads"], "milestone cycle (3 steps)", c["milestones_paid"], c["wall_s"], c["per_s"]]
        )
        rows[-1] += ["", "", ""]
        if orders:
            for phase, label in (
                ("order_to_paid", "order -> paid"),
                ("complete_to_released", "complete -> released"),
            ):
                d = orders[phase]
                rows.append(
                    [orders["threads"], label, d["ops"], d["wall_s"], d["ops_per_s"], d["cpu_ms_per_op"]]
                    + [d["sql_per_op"], d["failed"]]
                )
    print_table(["threads", "operation", "ops", "wall s", "ops/s", "cpu ms/op", "sql/op", "failed"], rows)
    print()
    step_rows = [
        [run["threads"], name, s["n"], s["p50_ms"], s["p95_ms"]]
        for run in [*runs, *order_runs]
        for name, s in run["steps"].items()
    ]
    print_table(["threads", "step", "n", "p50 ms", "p95 ms"], step_rows)
    print()
    print(
        f"sanity: {races['pairs']} double acceptances {races['outcomes']}; "
        f"ledger {'OK' if check['ok'] else 'BROKEN'}: {check['transactions']} transactions, "
        f"{check['entries']} entries, {check['funded_milestones']} funded / {check['paid_milestones']} paid "
        f"milestones (verify {check['verify_seconds']:.2f} s)"
    )
    for line in races["failures"][:10] + check["problems"]:
        print(f"  problem: {line}")
    print(f"discarded {dropped} queued jobs of {SLUG} (no worker runs against the bench)")
    path = record(
        "milestone_flow",
        argv,
        {
            "environment": env,
            "population": {
                "sellers": args.sellers,
                "buyers": args.buyers,
                "build_seconds": pop.build_seconds,
            },
            "runs": runs,
            "order_flow_runs": order_runs,
            "sanity": {"races": races, "ledger": check},
        },
    )
    print(f"results appended to {path}")
    failed = any(run[k]["failed"] for run in runs for k in ("fund -> funded", "submit", "accept -> released"))
    failed = failed or any(
        r[p]["failed"] for r in order_runs for p in ("order_to_paid", "complete_to_released")
    )
    return 1 if failed or races["failures"] or not check["ok"] else 0


if __name__ == "__main__":
    sys.exit(main())
