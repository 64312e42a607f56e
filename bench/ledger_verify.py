"""Time ``verify()`` (what ``flask ledger verify`` runs per tenant) over a ledger of 1,000,000 entries.

A bench tenant ``ledger-bench`` gets a consistent ledger built set-based
(INSERT ... SELECT generate_series, seconds rather than hours): per order, a
payment (2 entries) and a release with commission (3 entries), orders spread
over 1,000 sellers, cached balances set from the entries. It is built once and
reused (``--rebuild`` to start again). ``verify()`` is then run ``--repeat``
times; it must report the ledger sound.

    .venv/bin/python -m bench.ledger_verify [--entries 1000000] [--repeat 5]
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
    record,
    summarize,
)

SLUG = "ledger-bench"
SELLERS = 1_000
ENTRIES_PER_ORDER = 5


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.ledger_verify", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--entries", type=int, default=1_000_000, help="ledger entries to build (multiple of 5)"
    )
    parser.add_argument("--repeat", type=int, default=5, help="verify() runs to time")
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the bench tenant's ledger")
    add_service_args(parser)
    return parser.parse_args(argv)


def build_ledger(schema: str, orders: int) -> float:
    """Fill the tenant's ledger tables set-based; returns the seconds it took."""
    from tenants.db import db

    started = time.perf_counter()
    q = f'"{schema}"'
    amount = "(1000 + mod(o, 9000))"
    # commission_for(A, 1000 bps, min 100) in integer SQL: max(half-up(A/10), 100), capped at A.
    fee = f"least({amount}, greatest(({amount} * 1000 * 2 + 10000) / 20000, 100))"
    statements = [
        f"TRUNCATE {q}.ledger_entries, {q}.ledger_transactions, {q}.ledger_accounts RESTART IDENTITY",
        # Accounts: 1 clearing, 2 commission, 3..3+SELLERS-1 seller pending, then one escrow per order.
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
        # Transactions: 2o-1 the payment of order o, 2o its release.
        f"""INSERT INTO {q}.ledger_transactions
                (id, kind, idempotency_key, currency, order_id, milestone_id,
                 buyer_id, seller_id, memo, created_at)
            SELECT 2 * o - 1 + k,
                   CASE k WHEN 0 THEN 'payment' ELSE 'release' END,
                   CASE k WHEN 0 THEN 'payment:pi_' || o ELSE 'release:order:' || o || ':milestone:' || o END,
                   'USD', o, o,
                   CASE k WHEN 0 THEN 100000 + mod(o, 5000) END,
                   CASE k WHEN 1 THEN 1 + mod(o, {SELLERS}) END,
                   '', now() - make_interval(secs => {orders} - o + (1 - k))
            FROM generate_series(1, {orders}) o CROSS JOIN (VALUES (0), (1)) AS step(k)""",
        f"""INSERT INTO {q}.ledger_entries (transaction_id, account_id, amount_minor, currency)
            SELECT e.transaction_id, e.account_id, e.amount_minor, 'USD'
            FROM generate_series(1, {orders}) o
            CROSS JOIN LATERAL (VALUES
                (2 * o - 1, 1, {amount}),
                (2 * o - 1, 2 + {SELLERS} + o, -{amount}),
                (2 * o, 2 + {SELLERS} + o, {amount}),
                (2 * o, 3 + mod(o, {SELLERS}), -({amount} - {fee})),
                (2 * o, 2, -{fee})
            ) AS e(transaction_id, account_id, amount_minor)
            WHERE e.amount_minor <> 0""",
        f"""UPDATE {q}.ledger_accounts a
            SET balance_minor = CASE a.normal_side WHEN 'debit' THEN s.total ELSE -s.total END
            FROM (SELECT account_id, sum(amount_minor) AS total FROM {q}.ledger_entries GROUP BY account_id) s
            WHERE s.account_id = a.id""",
    ]
    with db.engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
        for table in ("ledger_accounts", "ledger_transactions", "ledger_entries"):
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{q}.{table}', 'id'), "
                f"(SELECT max(id) FROM {q}.{table}))"
            )
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("ledger_accounts", "ledger_transactions", "ledger_entries"):
            conn.exec_driver_sql(f"VACUUM ANALYZE {q}.{table}")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    orders = max(1, args.entries // ENTRIES_PER_ORDER)
    services = Services(args)
    app = make_app(services, "cheap")
    with app.app_context():
        from flask import current_app

        from app.ledger.verify import verify
        from tenants.db import db, tenant_context
        from tenants.provisioning import create_tenant
        from tenants.resolver import get_tenant_by_slug

        ensure_public_schema()
        ref = get_tenant_by_slug(SLUG)
        if ref is None:
            ref = create_tenant(
                SLUG, "Ledger Bench", base_domain=current_app.config["BASE_DOMAIN"], options={}
            ).tenant
        with db.engine.connect() as conn:
            existing = conn.exec_driver_sql(
                f'SELECT count(*) FROM "{ref.schema}".ledger_entries'
            ).scalar_one()
        build_seconds = None
        if args.rebuild or existing != orders * ENTRIES_PER_ORDER:
            print(
                f"building {orders:,} orders ({orders * ENTRIES_PER_ORDER:,} entries) in {ref.schema} ...",
                flush=True,
            )
            build_seconds = build_ledger(ref.schema, orders)
            print(f"  built in {build_seconds:.1f} s")
        env = environment(services)

        timings, report = [], None
        for _ in range(args.repeat):
            with tenant_context(ref):
                started = time.perf_counter()
                report = verify()
                timings.append(time.perf_counter() - started)
        stats = summarize(timings)
        print(
            f"verify(): {report.entries:,} entries, {report.transactions:,} transactions, "
            f"{report.accounts:,} accounts; ok={report.ok}"
        )
        print(
            f"  n={stats['n']} p50 {stats['p50']:.2f} s, min {stats['min']:.2f} s, max {stats['max']:.2f} s"
        )
        for line in report.problems[:20]:
            print(f"  problem: {line}")
        path = record(
            "ledger_verify",
            argv,
            {
                "environment": env,
                "entries": report.entries,
                "transactions": report.transactions,
                "accounts": report.accounts,
                "build_seconds": build_seconds,
                "verify_seconds": stats,
                "ok": report.ok,
            },
        )
        print(f"results appended to {path}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
