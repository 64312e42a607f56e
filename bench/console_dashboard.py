"""Time the console dashboard's figures (``app.console.dashboard.kpis.dashboard``) and the console's order
list for a marketplace with 100,000 orders.

A bench tenant ``console-bench`` gets, set-based (INSERT ... SELECT generate_series, seconds
rather than hours): 1,000 sellers with one active gig each in the starter categories, 20,000
buyers, ``--orders`` orders spread evenly over the last 400 days (5 % awaiting payment, 5 %
cancelled and refunded, 15 % in progress or delivered, 75 % completed) and their ledger
(a payment per paid order, a release with 10 % commission per completed one, a refund per
cancelled one; cached balances set from the entries). It is built once and reused
(``--rebuild`` to start again). Each period's dashboard is then computed ``--repeat`` times.

    .venv/bin/python -m bench.console_dashboard [--orders 100000] [--repeat 5] [--rebuild]
"""

from __future__ import annotations

import argparse
import sys
import time

from bench._common import (
    Services,
    add_service_args,
    ensure_public_schema,
    environment,
    make_app,
    print_table,
    record,
    summarize,
)

SLUG = "console-bench"
SELLERS = 1_000
BUYERS = 20_000
DAYS = 400
PERIODS = ("7d", "30d", "90d", "12m")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.console_dashboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders to build")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per period")
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the bench tenant's data")
    add_service_args(parser)
    return parser.parse_args(argv)


def build(schema: str, orders: int) -> float:
    """Fill the tenant's users, gigs, orders and ledger set-based; returns the seconds it took."""
    from tenants.db import db

    started = time.perf_counter()
    q = f'"{schema}"'
    step = DAYS * 86400.0 / orders  # seconds between two orders
    created = f"now() - make_interval(secs => ({orders} - o) * {step})"
    amount = "(1000 + mod(o * 37, 20000))"
    fee = f"least({amount}, greatest(({amount} * 1000 * 2 + 10000) / 20000, 100))"
    # 0: awaiting payment, 1: cancelled (refunded), 2-3: in progress / delivered, else completed
    status = (
        "CASE WHEN mod(o, 20) = 0 THEN 'awaiting_payment' WHEN mod(o, 20) = 1 THEN 'cancelled' "
        "WHEN mod(o, 20) IN (2, 3) THEN 'in_progress' WHEN mod(o, 20) = 4 THEN 'delivered' "
        "ELSE 'completed' END"
    )
    seller = f"1 + mod(o, {SELLERS})"
    user_step = 500.0 * 86400 / (SELLERS + BUYERS)  # sign-ups over 500 days
    buyer = f"{SELLERS} + 1 + mod(o * 7, {BUYERS})"
    statements = [
        f"TRUNCATE {q}.ledger_entries, {q}.ledger_transactions, {q}.ledger_accounts, {q}.users "
        "RESTART IDENTITY CASCADE",
        f"""INSERT INTO {q}.users (id, email, display_name, role, status, created_at)
            SELECT u, CASE WHEN u <= {SELLERS} THEN 'seller' ELSE 'buyer' END || u || '@bench.test',
                   'User ' || u, 'member', 'active',
                   now() - make_interval(secs => ({SELLERS + BUYERS} - u) * {user_step})
            FROM generate_series(1, {SELLERS + BUYERS}) u""",
        f"""INSERT INTO {q}.seller_profiles (user_id, headline, currency)
            SELECT u, 'Designer ' || u, 'USD' FROM generate_series(1, {SELLERS}) u""",
        f"""INSERT INTO {q}.gigs (id, seller_id, category_id, title, slug, status, min_price_minor,
                                  min_delivery_days, published_at, created_at)
            SELECT s, s, c.ids[1 + mod(s, cardinality(c.ids))], 'I will design a great logo ' || s,
                   'bench-gig-' || s, 'active', 1000, 3,
                   now() - make_interval(days => mod(s * 13, {DAYS})), now() - make_interval(days => {DAYS})
            FROM generate_series(1, {SELLERS}) s
            CROSS JOIN (SELECT array_agg(id ORDER BY id) AS ids FROM {q}.categories
                        WHERE parent_id IS NOT NULL) c""",
        f"""INSERT INTO {q}.orders (id, kind, buyer_id, seller_id, gig_id, title, currency, subtotal_minor,
                                   total_minor, status, delivery_days, revisions_allowed, created_at,
                                   paid_at, completed_at, cancelled_at)
            SELECT o, 'gig', {buyer}, {seller}, {seller}, 'I will design a great logo (Starter)', 'USD',
                   {amount}, {amount}, {status}, 3, 1, {created},
                   CASE WHEN mod(o, 20) <> 0 THEN {created} + interval '5 minutes' END,
                   CASE WHEN mod(o, 20) >= 5 THEN {created} + interval '3 days' END,
                   CASE WHEN mod(o, 20) = 1 THEN {created} + interval '1 day' END
            FROM generate_series(1, {orders}) o""",
        f"""INSERT INTO {q}.ledger_accounts (id, code, kind, currency, normal_side, balance_minor)
            VALUES (1, 'provider:clearing', 'provider_clearing', 'USD', 'debit', 0),
                   (2, 'platform:commission', 'platform_commission', 'USD', 'credit', 0)""",
        f"""INSERT INTO {q}.ledger_accounts
                (id, code, kind, owner_user_id, currency, normal_side, balance_minor)
            SELECT 2 + s, 'seller:' || s || ':pending', 'seller_pending', s, 'USD', 'credit', 0
            FROM generate_series(1, {SELLERS}) s""",
        f"""INSERT INTO {q}.ledger_accounts (id, code, kind, order_id, currency, normal_side, balance_minor)
            SELECT 2 + {SELLERS} + o, 'escrow:order:' || o, 'escrow', o, 'USD', 'credit', 0
            FROM generate_series(1, {orders}) o""",
        # Transactions 3o-2 payment, 3o-1 release (completed) or refund (cancelled).
        f"""INSERT INTO {q}.ledger_transactions
                (id, kind, idempotency_key, currency, order_id, buyer_id, seller_id, memo, created_at)
            SELECT 3 * o - 2, 'payment', 'payment:bench_' || o, 'USD', o, {buyer}, NULL, '',
                   least(now(), {created} + interval '5 minutes')
            FROM generate_series(1, {orders}) o WHERE mod(o, 20) <> 0
            UNION ALL
            SELECT 3 * o - 1, CASE WHEN mod(o, 20) = 1 THEN 'refund' ELSE 'release' END,
                   CASE WHEN mod(o, 20) = 1 THEN 'refund:bench_' || o
                        ELSE 'release:order:' || o || ':order' END,
                   'USD', o, CASE WHEN mod(o, 20) = 1 THEN {buyer} END,
                   CASE WHEN mod(o, 20) <> 1 THEN {seller} END, '',
                   least(now(), {created} + CASE WHEN mod(o, 20) = 1 THEN interval '1 day'
                                                 ELSE interval '3 days' END)
            FROM generate_series(1, {orders}) o WHERE mod(o, 20) = 1 OR mod(o, 20) >= 5""",
        f"""INSERT INTO {q}.ledger_entries (transaction_id, account_id, amount_minor, currency)
            SELECT e.transaction_id, e.account_id, e.amount_minor, 'USD'
            FROM generate_series(1, {orders}) o
            CROSS JOIN LATERAL (VALUES
                (3 * o - 2, 1, {amount}, mod(o, 20) <> 0),
                (3 * o - 2, 2 + {SELLERS} + o, -{amount}, mod(o, 20) <> 0),
                (3 * o - 1, 2 + {SELLERS} + o, {amount}, mod(o, 20) >= 5 OR mod(o, 20) = 1),
                (3 * o - 1, 1, -{amount}, mod(o, 20) = 1),
                (3 * o - 1, 3 + mod(o, {SELLERS}), -({amount} - {fee}), mod(o, 20) >= 5),
                (3 * o - 1, 2, -{fee}, mod(o, 20) >= 5)
            ) AS e(transaction_id, account_id, amount_minor, wanted)
            WHERE e.wanted AND e.amount_minor <> 0""",
        f"""UPDATE {q}.ledger_accounts a
            SET balance_minor = CASE a.normal_side WHEN 'debit' THEN s.total ELSE -s.total END
            FROM (SELECT account_id, sum(amount_minor) AS total FROM {q}.ledger_entries GROUP BY account_id) s
            WHERE s.account_id = a.id""",
    ]
    with db.engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
        for table in ("users", "gigs", "orders", "ledger_accounts", "ledger_transactions", "ledger_entries"):
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{q}.{table}', 'id'), "
                f"(SELECT max(id) FROM {q}.{table}))"
            )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("users", "gigs", "orders", "ledger_accounts", "ledger_transactions", "ledger_entries"):
            conn.exec_driver_sql(f"VACUUM ANALYZE {q}.{table}")
    return time.perf_counter() - started


def _time(call, repeat: int) -> tuple[dict, object]:
    timings, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        timings.append(time.perf_counter() - started)
    return summarize(timings), result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    services = Services(args)
    app = make_app(services, "cheap")
    with app.app_context():
        import sqlalchemy as sa
        from flask import current_app

        from app.console.dashboard import kpis
        from app.console.operations import orders
        from app.ledger.verify import verify
        from tenants.db import db, tenant_context
        from tenants.provisioning import create_tenant
        from tenants.resolver import get_tenant_by_slug

        ensure_public_schema()
        ref = get_tenant_by_slug(SLUG)
        if ref is None:
            ref = create_tenant(
                SLUG, "Console Bench", base_domain=current_app.config["BASE_DOMAIN"], options={}
            ).tenant
        with db.engine.connect() as conn:
            existing = conn.exec_driver_sql(f'SELECT count(*) FROM "{ref.schema}".orders').scalar_one()
        build_seconds = None
        if args.rebuild or existing != args.orders:
            print(f"building {args.orders:,} orders in {ref.schema} ...", flush=True)
            build_seconds = build(ref.schema, args.orders)
            print(f"  built in {build_seconds:.1f} s")
        env = environment(services)

        results, rows = {}, []
        with tenant_context(ref):
            report = verify()
            assert report.ok, report.problems[:5]
            counts = db.session.execute(
                sa.text(
                    f'SELECT (SELECT count(*) FROM "{ref.schema}".orders), '
                    f'(SELECT count(*) FROM "{ref.schema}".ledger_transactions), '
                    f'(SELECT count(*) FROM "{ref.schema}".ledger_entries)'
                )
            ).one()
            db.session.rollback()
            kpis.dashboard("30d")  # warm the connection and the caches once
            for period in PERIODS:
                stats, board = _time(lambda p=period: kpis.dashboard(p), args.repeat)
                db.session.rollback()
                results[period] = {
                    "seconds": stats,
                    "gmv_minor": board.figures["gmv"].value,
                    "orders": board.figures["orders"].value,
                    "buckets": len(board.series),
                }
                rows.append(
                    [
                        f"dashboard {period}",
                        stats["p50"] * 1000,
                        stats["min"] * 1000,
                        stats["max"] * 1000,
                        f"{board.figures['orders'].value:,} orders, "
                        f"GMV {board.figures['gmv'].value / 100:,.0f}",
                    ]
                )
            for label, call in (
                ("orders list, page 1", lambda: orders.search_orders(orders.order_filters())),
                (
                    "orders list, status filter",
                    lambda: orders.search_orders(orders.order_filters(status="delivered")),
                ),
                (
                    "orders search by email",
                    lambda: orders.search_orders(orders.order_filters(q="buyer1234@bench")),
                ),
            ):
                stats, (found, total) = _time(call, args.repeat)
                db.session.rollback()
                results[label] = {"seconds": stats, "total": total}
                rows.append(
                    [label, stats["p50"] * 1000, stats["min"] * 1000, stats["max"] * 1000, f"{total:,} rows"]
                )
        print(
            f"{counts[0]:,} orders, {counts[1]:,} ledger transactions, {counts[2]:,} entries; "
            f"{args.repeat} runs each (ms)"
        )
        print_table(["what", "p50 ms", "min ms", "max ms", "result"], rows)
        path = record(
            "console_dashboard",
            argv,
            {
                "environment": env,
                "orders": counts[0],
                "ledger_transactions": counts[1],
                "ledger_entries": counts[2],
                "build_seconds": build_seconds,
                "results": results,
            },
        )
        print(f"results appended to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
