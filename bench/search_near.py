"""Location search with 50,000 active gigs, half on site: Whoosh vs PostgreSQL (issue #18).

1. Population: one tenant (``nearbench``) filled to ``--gigs`` active gigs with
   ``bench.search_bench``'s generator (demo catalog vocabulary, COPY), then half of them
   (every even id) made on-site gigs around real cities (a uniform offset of up to ~40 km from
   the city centre, a service radius of 5-50 km); sellers get languages and a country.
   Reused by later runs when already there.
2. Index build: ``reindex_tenant()`` (Whoosh format 4: the location columns).
3. Search: "near <city> within 25 km" with a keyword (``--query``), the city rotating over
   ``CITIES``, through ``search_gigs(query, cards=True)`` (the search page's call: ids, facet
   counts, distances, cards), interleaved backend by backend in random order after a warm-up;
   p50/p95 of each, the backend's ``search()`` alone too, and the same query sorted by distance.
   Both backends must return the same totals (checked on every round).

Target: Whoosh p95 < 30 ms.

    .venv/bin/python -m bench.search_near --gigs 50000 --queries 300
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

import sqlalchemy as sa

from bench._common import Services, add_service_args, environment, make_app, print_table, record, summarize

TENANT_SLUG = "nearbench"
P95_TARGET_MS = 30.0
QUERY_TEXT = "logo"
WITHIN_KM = 25
CITIES = {
    "Berlin": (52.52437, 13.41053),
    "Paris": (48.85341, 2.3488),
    "London": (51.50853, -0.12574),
    "Madrid": (40.4165, -3.70256),
    "New York City": (40.71427, -74.00597),
    "Chicago": (41.85003, -87.65005),
    "Tokyo": (35.6895, 139.69171),
    "Sydney": (-33.86785, 151.20732),
}
# Its own Redis database: the test suites of parallel sessions flush 1-14 (tests/conftest.py).
SEARCH_BENCH_REDIS_DB = 15


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.search_near", description=__doc__.split("\n\n")[0])
    parser.add_argument("--gigs", type=int, default=50_000, help="active gigs in the benchmark tenant")
    parser.add_argument("--queries", type=int, default=300, help="measured searches per backend")
    parser.add_argument("--warmup", type=int, default=30, help="unmeasured searches per backend first")
    parser.add_argument("--query", default=QUERY_TEXT, help="the keyword")
    parser.add_argument("--skip-reindex", action="store_true", help="reuse the existing Whoosh index")
    add_service_args(parser)
    return parser.parse_args(argv)


def ensure_tenant():
    from flask import current_app

    from tenants.provisioning import create_tenant
    from tenants.resolver import get_tenant_by_slug

    ref = get_tenant_by_slug(TENANT_SLUG)
    if ref is None:
        create_tenant(
            TENANT_SLUG,
            "Near Bench Market",
            base_domain=current_app.config["BASE_DOMAIN"],
            options={"admin_email": f"admin@{TENANT_SLUG}.test"},
        )
        current_app.extensions["tenants"].invalidate()
        ref = get_tenant_by_slug(TENANT_SLUG)
    return ref


def place_half_on_site() -> dict:
    """Every even-id online gig becomes an on-site gig around one of ``CITIES`` (deterministic:
    the city and offsets come from the id); sellers get languages and a country."""
    from tenants.db import current_tenant, db

    schema = current_tenant().schema
    have = db.session.execute(
        sa.text(
            f"SELECT count(*) FROM \"{schema}\".gigs WHERE status = 'active' AND delivery_mode = 'on_site'"
        )
    ).scalar_one()
    cities = list(CITIES.values())
    values = ", ".join(f"({i}, {lat}, {lng})" for i, (lat, lng) in enumerate(cities))
    started = time.perf_counter()
    # Offsets: up to ±0.35° of latitude (~39 km) and the same distance in longitude; hashes of
    # the id give repeatable "random" numbers in [0, 1).
    updated = db.session.execute(
        sa.text(
            f"UPDATE \"{schema}\".gigs g SET delivery_mode = 'on_site', "
            "latitude = c.lat + (((CAST(g.id AS bigint) * 7919) % 1000) / 1000.0 - 0.5) * 0.7, "
            "longitude = c.lng "
            "+ (((CAST(g.id AS bigint) * 104729) % 1000) / 1000.0 - 0.5) * 0.7 / cos(radians(c.lat)), "
            "service_radius_km = 5 + (g.id * 31) % 46, location_name = 'Bench city' "
            f"FROM (VALUES {values}) AS c(i, lat, lng) "
            f"WHERE g.id % 2 = 0 AND g.delivery_mode = 'online' AND c.i = (g.id / 2) % {len(cities)}"
        )
    ).rowcount
    db.session.execute(
        sa.text(
            f'UPDATE "{schema}".users SET '
            "languages = CAST((CASE id % 5 WHEN 0 THEN '{en,de}' WHEN 1 THEN '{en}' WHEN 2 THEN '{fr,en}' "
            "WHEN 3 THEN '{es}' ELSE '{ja,en}' END) AS varchar[]), "
            "country = (ARRAY['DE','US','FR','ES','JP','GB','AU'])[1 + id % 7] "
            "WHERE email LIKE '%@searchbench.test'"
        )
    )
    db.session.commit()
    for table in ("gigs", "users", "seller_profiles"):  # fresh statistics for the planner
        db.session.execute(sa.text(f'ANALYZE "{schema}".{table}'))
    db.session.commit()
    return {
        "on_site_before": have,
        "made_on_site": updated,
        "seconds": round(time.perf_counter() - started, 1),
    }


def measure(app, args) -> dict:
    from app.search.pg_backend import PostgresBackend
    from app.search.services import build_query, search_gigs, with_online_sellers
    from app.search.whoosh_backend import WhooshBackend
    from tenants.db import current_tenant, db

    backends = {"whoosh": WhooshBackend(), "postgres": PostgresBackend()}
    tenant_id = current_tenant().id
    names = list(CITIES)
    queries = {
        (city, sort): build_query(text=args.query, near=f"{city}", within_km=WITHIN_KM, sort=sort)
        for city in names
        for sort in ("relevance", "distance")
    }
    series = ("page", "backend", "cpu", "distance_page")
    times = {name: {k: [] for k in series} for name in backends}
    hits: dict[str, list[int]] = {name: [] for name in backends}
    on_site_hits: dict[str, list[int]] = {name: [] for name in backends}
    mismatches = 0
    rng = random.Random(18)

    def timed(call):
        db.session.expire_all()
        started = time.perf_counter()
        result = call()
        elapsed = time.perf_counter() - started
        db.session.rollback()
        return elapsed, result

    for i in range(args.warmup + args.queries):
        city = names[i % len(names)]
        query, by_distance = queries[(city, "relevance")], queries[(city, "distance")]
        order = list(backends)
        rng.shuffle(order)
        totals = {}
        for name in order:
            app.extensions["search_backend"] = backends[name]
            page, result = timed(lambda query=query: search_gigs(query, cards=True))
            ready = with_online_sellers(query, tenant_id)
            cpu_started = time.thread_time()
            backend, _ = timed(lambda name=name, ready=ready: backends[name].search(tenant_id, ready))
            cpu = time.thread_time() - cpu_started
            near_page, near = timed(lambda by_distance=by_distance: search_gigs(by_distance, cards=True))
            totals[name] = (result.total, result.facet_counts, near.ids)
            if i >= args.warmup:
                for key, value in (
                    ("page", page),
                    ("backend", backend),
                    ("cpu", cpu),
                    ("distance_page", near_page),
                ):
                    times[name][key].append(value)
                hits[name].append(result.total)
                on_site_hits[name].append(result.facet_counts["mode"]["on_site"])
        if totals["whoosh"] != totals["postgres"]:
            mismatches += 1
    app.extensions.pop("search_backend", None)
    out = {"query": {"text": args.query, "within_km": WITHIN_KM, "cities": names}, "mismatches": mismatches}
    for name in backends:
        t = times[name]
        out[name] = {
            "hits_mean": sum(hits[name]) / len(hits[name]),
            "on_site_hits_mean": sum(on_site_hits[name]) / len(on_site_hits[name]),
            **{
                f"{key}_{stat}_ms": summarize(t[key])[stat] * 1000
                for key in series
                for stat in ("p50", "p95")
            },
            "page_max_ms": summarize(t["page"])["max"] * 1000,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    from bench.search_bench import own_redis_url, populate

    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    services = Services(args)
    index_dir = str(services.instance_dir / f"search-{args.db_name}")
    app = make_app(
        services,
        args.argon2,
        SEARCH_INDEX_DIR=index_dir,
        REDIS_URL=own_redis_url(services.redis_url, SEARCH_BENCH_REDIS_DB),
    )
    with app.app_context():
        from app.search.services import reindex_tenant
        from tenants.db import tenant_context
        from tenants.migrations import default_jobs, migrate_all

        migrate_all(jobs=default_jobs())
        env = environment(services)
        ref = ensure_tenant()
        with tenant_context(ref):
            print(
                f"population: tenant {TENANT_SLUG}, target {args.gigs:,} active gigs, half on site",
                flush=True,
            )
            population = populate(args.gigs)
            population["location"] = place_half_on_site()
            print(f"  {population}", flush=True)
            load = {"start": [round(x, 2) for x in os.getloadavg()]}
            build: dict = {"skipped": True}
            if not args.skip_reindex:
                started = time.perf_counter()
                count = reindex_tenant()
                seconds = time.perf_counter() - started
                build = {"indexed": count, "seconds": round(seconds, 1), "gigs_per_s": round(count / seconds)}
                print(f"index build: {build}", flush=True)
            print(f"search: {args.warmup} warm-up + {args.queries} measured rounds per backend", flush=True)
            search = measure(app, args)
            load["end"] = [round(x, 2) for x in os.getloadavg()]
    w, p = search["whoosh"], search["postgres"]
    print()
    print_table(
        [
            f'"{args.query}" near a city within {WITHIN_KM} km',
            "hits (on site)",
            "page p50 ms",
            "page p95 ms",
            "max ms",
            "backend p50/p95 ms",
            "CPU p50/p95 ms",
            "sort=distance p50/p95 ms",
        ],
        [
            [
                name,
                f"{r['hits_mean']:.0f} ({r['on_site_hits_mean']:.0f})",
                r["page_p50_ms"],
                r["page_p95_ms"],
                r["page_max_ms"],
                f"{r['backend_p50_ms']:.1f} / {r['backend_p95_ms']:.1f}",
                f"{r['cpu_p50_ms']:.1f} / {r['cpu_p95_ms']:.1f}",
                f"{r['distance_page_p50_ms']:.1f} / {r['distance_page_p95_ms']:.1f}",
            ]
            for name, r in (("Whoosh", w), ("PostgreSQL", p))
        ],
    )
    print(
        f"rounds where the backends disagreed (totals, facet counts, distance order): {search['mismatches']}"
    )
    print("load average (1, 5, 15 min): " + "; ".join(f"{k} {v}" for k, v in load.items()))
    ok = w["page_p95_ms"] < P95_TARGET_MS and not search["mismatches"]
    print(f"target: Whoosh p95 < {P95_TARGET_MS:.0f} ms, backends agree: {'met' if ok else 'MISSED'}")
    path = record(
        "search_near",
        argv,
        {
            "environment": env,
            "population": population,
            "index_build": build,
            "search": search,
            "loadavg": load,
            "target_met": ok,
        },
    )
    print(f"recorded in {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
