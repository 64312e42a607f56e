"""Tenants never meet in search; concurrent index writes never collide."""

from __future__ import annotations

import threading

from app.search import services
from tenants.db import tenant_context


def test_equal_ids_in_two_tenants_never_cross(
    acme, globex, make_seller, make_gig, run_jobs, search, tenant_client, search_index_dir
):
    acme_gig = make_gig(acme, make_seller(acme), title="I will design an acme rocket logo")
    globex_gig = make_gig(globex, make_seller(globex), title="I will write globex world domination plans")
    assert acme_gig == globex_gig  # equal ids, different tenants
    run_jobs()
    assert search(acme, q="globex")[0] == [] and search(globex, q="acme")[0] == []
    assert search(acme)[0] == ["I will design an acme rocket logo"]
    assert search(globex)[0] == ["I will write globex world domination plans"]
    assert (search_index_dir / f"t{acme.id}").resolve() != (search_index_dir / f"t{globex.id}").resolve()
    page = tenant_client("globex").get("/search?q=rocket").get_data(as_text=True)
    assert "acme rocket" not in page
    api = tenant_client("globex").get("/api/v1/gigs?q=rocket")
    assert api.status_code == 200 and api.json == []
    suggestions = tenant_client("globex").get("/search/suggest?q=rock").json["suggestions"]
    assert suggestions == []


def test_concurrent_index_writes_in_threads_all_land(acme, make_seller, make_gig, run_jobs, app, search):
    seller = make_seller(acme)
    ids = [
        make_gig(acme, seller, title=f"I will translate document number {n}", tags=("translation",))
        for n in range(8)
    ]
    errors = []

    def write(gig_id):
        try:
            with app.app_context(), tenant_context(acme):
                for _ in range(3):
                    services.index_gig(gig_id)
        except Exception as exc:  # a LockError or anything else fails the test below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(gig_id,)) for gig_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert search(acme, q="translate", per_page=50)[1].total == 8
    run_jobs()  # and the queued events on top of that change nothing
    assert search(acme, q="translate", per_page=50)[1].total == 8
