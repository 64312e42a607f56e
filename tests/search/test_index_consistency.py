"""The index follows the database: publish, edit, pause, archive, reindex, stale entries."""

from __future__ import annotations

from app.accounts.models import User
from app.gigs import services as gig_services
from app.gigs.models import Gig
from app.search import services
from tenants.db import db


def test_a_published_gig_is_found_once_its_event_is_handled(acme, seller, make_gig, run_jobs, search):
    make_gig(acme, seller, title="I will sketch a charcoal portrait")
    run_jobs()  # the tenant's index exists from now on
    make_gig(acme, seller, title="I will paint a watercolor portrait")
    assert search(acme, q="watercolor")[0] == []  # the event is still queued
    run_jobs()
    titles, result = search(acme, q="watercolor")
    assert titles == ["I will paint a watercolor portrait"] and result.total == 1


def test_drafts_are_never_indexed(acme, seller, make_gig, run_jobs, search):
    make_gig(acme, seller, title="I will paint a watercolor portrait", status="draft")
    run_jobs()
    assert search(acme, q="watercolor")[0] == []


def test_an_edited_title_is_found_and_the_old_one_is_not(acme, seller, make_gig, run_jobs, search, in_tenant):
    gig_id = make_gig(acme, seller, title="I will paint a watercolor portrait")
    run_jobs()
    with in_tenant(acme):
        gig = db.session.get(Gig, gig_id)
        gig_services.update_gig(
            db.session.get(User, seller), gig, {"title": "I will sketch a charcoal portrait"}
        )
        db.session.commit()
    run_jobs()
    assert search(acme, q="charcoal")[0] == ["I will sketch a charcoal portrait"]
    assert search(acme, q="watercolor")[0] == []


def test_paused_and_archived_gigs_leave_the_index(acme, seller, make_gig, run_jobs, search, in_tenant, app):
    first = make_gig(acme, seller, title="I will paint a watercolor portrait")
    second = make_gig(acme, seller, title="I will paint a watercolor landscape")
    run_jobs()
    assert search(acme, q="watercolor")[1].total == 2
    with in_tenant(acme):
        me = db.session.get(User, seller)
        gig_services.pause_gig(me, db.session.get(Gig, first))
        gig_services.archive_gig(me, db.session.get(Gig, second))
        db.session.commit()
    run_jobs()
    with in_tenant(acme):  # gone from the index itself, not only filtered at hydration
        from app.search.backend import SearchQuery, get_backend

        assert get_backend().search(acme.id, SearchQuery(text="watercolor")).ids == []


def test_a_gig_inactive_in_the_database_but_still_indexed_is_not_returned(
    acme, seller, make_gig, run_jobs, search, in_tenant
):
    gig_id = make_gig(acme, seller, title="I will paint a watercolor portrait")
    run_jobs()
    with in_tenant(acme):
        gig_services.pause_gig(db.session.get(User, seller), db.session.get(Gig, gig_id))
        db.session.commit()
    # The gig.paused event has not been handled: the index still has the gig...
    with in_tenant(acme):
        from app.search.backend import SearchQuery, get_backend

        assert get_backend().search(acme.id, SearchQuery(text="watercolor")).ids == [gig_id]
    # ...but the database is the truth.
    titles, result = search(acme, q="watercolor")
    assert titles == [] and result.total == 0
    run_jobs()  # the event and the repair job both converge on "deleted"
    with in_tenant(acme):
        assert get_backend().search(acme.id, SearchQuery(text="watercolor")).ids == []


def test_handlers_are_idempotent(acme, seller, make_gig, run_jobs, search, in_tenant):
    gig_id = make_gig(acme, seller, title="I will paint a watercolor portrait")
    run_jobs()
    with in_tenant(acme):
        services.index_gig(gig_id)
        services.index_gig(gig_id)
        services.index_gig(999_999)  # unknown ids are simply absent
    assert search(acme, q="watercolor")[1].total == 1


def test_reindex_rebuilds_from_the_database(
    acme, seller, make_gig, run_jobs, search, search_index_dir, app, index_state
):
    make_gig(acme, seller, title="I will paint a watercolor portrait")
    make_gig(acme, seller, title="I will paint a watercolor landscape", status="paused")
    run_jobs()
    import shutil

    shutil.rmtree(search_index_dir)  # lost or corrupt: the database can rebuild it
    assert index_state(acme.id) == "missing"
    result = app.test_cli_runner().invoke(args=["search", "reindex", "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    assert "acme: 1 gig(s) indexed" in result.output
    assert search(acme, q="watercolor")[0] == ["I will paint a watercolor portrait"]
    link = search_index_dir / f"t{acme.id}"
    assert link.is_symlink() and link.resolve().parent == search_index_dir.resolve()
    # A second rebuild swaps in a fresh generation and removes the old one.
    old = link.resolve()
    assert app.test_cli_runner().invoke(args=["search", "reindex"]).exit_code == 0
    assert link.resolve() != old and not old.exists()
    assert search(acme, q="watercolor")[0] == ["I will paint a watercolor portrait"]


def test_reindex_of_an_unknown_tenant_is_a_clear_error(app):
    result = app.test_cli_runner().invoke(args=["search", "reindex", "--tenant", "nope"])
    assert result.exit_code != 0 and "no tenant 'nope'" in result.output
