"""What one request costs a worker, in-process, for the pages and API reads people use most:
signed in and not.

A bench tenant ``pagebench`` is rebuilt on every run (``bench.order_flow``'s population:
``--sellers`` sellers with an active gig each, ``--buyers`` buyers with an API token and a web
session) and its search index built. Each request below then goes through the whole app in
this process (WSGI test client: routing, host resolution, session or token, the views, the
tenant caches, PostgreSQL, Redis, Jinja), ``--requests`` times after ``--warmup`` unmeasured
ones, the kinds interleaved so the machine's load hits each alike:

- ``GET /healthz`` (the liveness probe: the floor);
- ``GET /api/v1/me`` with a bearer token, and with a partner's API key (its call logged),
  ``GET /api/v1/categories`` (cached tree);
- a signed-in buyer's ``/orders``, home page and ``/search`` (24 cards with their hearts);
- an anonymous ``/search``;
- a gig's page, signed in and anonymous.

Reported per kind: wall p50 / p95 (ms) and CPU per request (ms, ``time.process_time`` over the
kind's requests). Signed-in pages are never kept whole (their header, hearts and rows are the
user's own), so this is where a page's own work shows.

    .venv/bin/python -m bench.signed_in_pages [--sellers 40] [--buyers 5] [--requests 300]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from bench._common import add_service_args, percentile, print_table, record
from bench.order_flow import log_in_buyers, populated_app

SLUG = "pagebench"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.signed_in_pages", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sellers", type=int, default=40, help="sellers, one active gig each")
    parser.add_argument("--buyers", type=int, default=5, help="buyers (the first one signs in)")
    parser.add_argument("--requests", type=int, default=300, help="measured requests of each kind")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured requests of each kind first")
    add_service_args(parser)
    return parser.parse_args(argv)


def kinds(app, pop) -> dict:
    buyer = pop.buyers[0]
    api = app.test_client()
    gig = _a_gig_slug(app, pop)
    key = {"Authorization": f"Bearer {_an_api_key(app, pop)}"}

    def get(client, path, **kwargs):
        def call():
            response = client.open(path, method="GET", base_url=f"http://{pop.host}/", **kwargs)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: HTTP {response.status_code}")
            return response

        return call

    return {
        "GET /healthz": get(api, "/healthz"),
        "GET /api/v1/me (token)": get(api, "/api/v1/me", headers=buyer.auth),
        "GET /api/v1/me (API key)": get(api, "/api/v1/me", headers=key),
        "GET /api/v1/categories": get(api, "/api/v1/categories"),
        "signed-in /orders": get(buyer.client, "/orders"),
        "signed-in home page": get(buyer.client, "/"),
        "signed-in /search (24 cards)": get(buyer.client, "/search"),
        "anonymous /search (24 cards)": get(app.test_client(), "/search"),
        "signed-in gig page": get(buyer.client, f"/gigs/{gig}"),
        "anonymous gig page": get(app.test_client(), f"/gigs/{gig}"),
    }


def _an_api_key(app, pop) -> str:
    """The secret of a partner's key acting as the first buyer (made by the tenant's admin)."""
    import sqlalchemy as sa

    from app.accounts.api_keys import create_key
    from app.accounts.models import User
    from tenants.db import db, tenant_context

    with app.app_context(), tenant_context(pop.tenant):
        admin = db.session.scalars(sa.select(User).where(User.role == "admin").limit(1)).one()
        buyer = db.session.get(User, pop.buyers[0].id)
        _key, secret = create_key(admin, name="Bench partner", scopes=["account:read"], user=buyer)
        db.session.commit()
        return secret


def _a_gig_slug(app, pop) -> str:
    import sqlalchemy as sa

    from app.gigs.models import Gig
    from tenants.db import db, tenant_context

    with app.app_context(), tenant_context(pop.tenant):
        return db.session.scalar(sa.select(Gig.slug).where(Gig.status == "active").order_by(Gig.id).limit(1))


def measure(calls: dict, requests: int, warmup: int) -> dict:
    for _ in range(warmup):
        for call in calls.values():
            call()
    wall = {name: [] for name in calls}
    cpu = dict.fromkeys(calls, 0.0)
    for _ in range(requests):
        for name, call in calls.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            call()
            cpu[name] += time.process_time() - started_cpu
            wall[name].append((time.perf_counter() - started) * 1000)
    return {
        name: {
            "n": requests,
            "p50_ms": round(percentile(wall[name], 50), 3),
            "p95_ms": round(percentile(wall[name], 95), 3),
            "cpu_ms": round(cpu[name] * 1000 / requests, 3),
        }
        for name in calls
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    app, env, pop = populated_app(args, SLUG)
    with app.app_context():
        from app.search.services import reindex_tenant
        from tenants.db import tenant_context

        with tenant_context(pop.tenant):
            indexed = reindex_tenant()
    log_in_buyers(app, pop)
    print(f"  built in {pop.build_seconds:.1f} s, {indexed} gigs indexed", flush=True)
    results = measure(kinds(app, pop), args.requests, args.warmup)
    env["loadavg_1m_at_end"] = round(os.getloadavg()[0], 2)
    print()
    print_table(
        ["request", "n", "p50 ms", "p95 ms", "cpu ms"],
        [[name, r["n"], r["p50_ms"], r["p95_ms"], r["cpu_ms"]] for name, r in results.items()],
    )
    print(f"load average (1 min): {env.get('loadavg_1m_at_start')} -> {env['loadavg_1m_at_end']}")
    path = record("signed_in_pages", argv, {"environment": env, "results": results})
    print(f"results appended to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
