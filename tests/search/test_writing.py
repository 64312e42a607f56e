"""Writing the index: coalesced writer sessions, rebuilds that take in the changes made meanwhile,
background merges, and a lost index that is rebuilt rather than restarted empty."""

from __future__ import annotations

import shutil
import threading
import time

import pytest
from rq import Queue

from app.search import services
from app.search import whoosh_internals as internals
from app.search.backend import get_backend
from app.search.services import PendingWrites, SearchBusy
from app.search.whoosh_backend import WhooshBackend
from tenants.db import tenant_context
from tests.helpers import wait_until


def test_a_gig_marked_again_during_a_write_stays_pending(acme, app):
    with app.app_context():
        pending = PendingWrites(acme.id)
        first = pending.mark([7, 8])
        seq, entries = pending.snapshot()  # a writer takes the pending gigs...
        assert seq == first and set(entries) == {7, 8}
        again = pending.mark([8])  # ...gig 8 changes again while it writes...
        pending.done(seq, entries)  # ...and it finishes
        assert pending.flushed() == first
        assert set(pending.snapshot()[1]) == {8}  # the newer change is still to be written
        assert again > pending.flushed()  # so its caller writes it itself


def test_concurrent_index_writes_of_one_tenant_coalesce_into_one_session(
    acme, seller, make_gig, run_jobs, app, search, monkeypatch
):
    ids = [make_gig(acme, seller, title=f"I will translate document number {n}") for n in range(6)]
    run_jobs()
    sessions = []
    original_write = WhooshBackend.write

    def counting_write(self, tenant_id, docs, delete_ids=()):
        docs = list(docs)
        sessions.append(sorted(doc.id for doc in docs))
        return original_write(self, tenant_id, docs, delete_ids)

    monkeypatch.setattr(WhooshBackend, "write", counting_write)
    errors = []

    def write(gig_id):
        try:
            with app.app_context(), tenant_context(acme):
                services.index_gig(gig_id)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    with app.app_context(), services.writer_lock(acme.id):  # another writer is busy meanwhile
        threads = [threading.Thread(target=write, args=(gig_id,)) for gig_id in ids]
        for thread in threads:
            thread.start()
        # Every writer has recorded its gig and waits for the lock this test holds.
        wait_until(lambda: len(PendingWrites(acme.id).snapshot()[1]) == len(ids), timeout=20)
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sessions == [sorted(ids)]  # the first to get the lock wrote all six; the others had nothing to do
    assert search(acme, q="translate", per_page=50)[1].total == 6


def test_a_writer_gives_up_at_once_while_a_rebuild_holds_the_lock(
    acme, seller, make_gig, run_jobs, app, monkeypatch
):
    gig_id = make_gig(acme, seller, title="I will paint a watercolor portrait")
    run_jobs()

    class NoWaiting:
        """The services' clock, refusing to pause: giving up "at once" means not one pause."""

        monotonic = staticmethod(time.monotonic)

        @staticmethod
        def sleep(_seconds):
            raise AssertionError("the writer waited for the lock instead of giving up")

    with app.app_context(), tenant_context(acme), services.writer_lock(acme.id, rebuild=True):
        monkeypatch.setattr(services, "time", NoWaiting)
        with pytest.raises(SearchBusy, match="rebuilt"):
            services.index_gig(gig_id)
        assert gig_id in PendingWrites(acme.id).snapshot()[1]  # left for the rebuild to write


def test_gigs_changed_during_a_rebuild_are_written_before_it_ends(
    acme, seller, make_gig, run_jobs, search, app, monkeypatch
):
    make_gig(acme, seller, title="I will paint a watercolor portrait")
    run_jobs()
    read_rows = services._active_documents
    published = []

    def rows_then_a_new_gig(*args, **kwargs):
        yield from read_rows(*args, **kwargs)
        # All rows are read; now a seller publishes, and the event handler meets the rebuild.
        gig_id = make_gig(acme, seller, title="I will paint a watercolor landscape")
        with pytest.raises(SearchBusy):
            services.index_gig(gig_id)
        published.append(gig_id)

    monkeypatch.setattr(services, "_active_documents", rows_then_a_new_gig)
    with app.app_context(), tenant_context(acme):
        assert services.reindex_tenant() == 1
    assert published
    # No job has run: the rebuild wrote the new gig on top of the fresh index before letting go.
    assert set(search(acme, q="watercolor")[0]) == {
        "I will paint a watercolor portrait",
        "I will paint a watercolor landscape",
    }


def test_small_segments_are_merged_in_the_background(
    acme, seller, make_gig, run_jobs, app, search, in_tenant, monkeypatch
):
    def segments() -> int:
        with in_tenant(acme):
            return len(internals.segments(get_backend()._index(acme.id)))

    make_gig(acme, seller, title="I will translate document number 0")
    run_jobs()
    monkeypatch.setitem(app.config, "SEARCH_MERGE_SEGMENTS", segments() + 1)
    default = Queue("default", connection=app.extensions["redis"])
    for n in (1, 2):
        make_gig(acme, seller, title=f"I will translate document number {n}")
        run_jobs(queues=("events",))  # one writer session each, committed without merging
    assert segments() == app.config["SEARCH_MERGE_SEGMENTS"] + 1
    assert [job.func_name for job in default.get_jobs()] == ["app.search.tasks.merge_index"]
    run_jobs()
    assert segments() == 1
    assert search(acme, q="translate", per_page=50)[1].total == 3


def test_searches_are_answered_from_the_database_while_the_index_is_missing(
    acme, seller, make_gig, run_jobs, search, search_index_dir, index_state
):
    make_gig(acme, seller, title="I will paint a watercolor portrait")
    run_jobs()
    shutil.rmtree(search_index_dir)
    assert search(acme, q="watercolor")[0] == ["I will paint a watercolor portrait"]  # PostgreSQL
    run_jobs()  # the rebuild the search queued
    assert index_state(acme.id) == "ok"
    assert search(acme, q="watercolr")[1].corrected == "watercolor"  # Whoosh again


def test_a_lost_index_of_a_big_tenant_is_rebuilt_not_restarted_with_one_gig(
    acme, seller, make_gig, run_jobs, search_index_dir, app, in_tenant, monkeypatch
):
    monkeypatch.setitem(app.config, "SEARCH_REBUILD_INLINE_MAX", 1)  # "big": more than one gig
    make_gig(acme, seller, title="I will paint a watercolor portrait")
    make_gig(acme, seller, title="I will paint a watercolor landscape")
    run_jobs()
    shutil.rmtree(search_index_dir)
    make_gig(acme, seller, title="I will paint a watercolor still life")
    run_jobs(queues=("events",))  # the handler finds no index and queues a rebuild
    default = Queue("default", connection=app.extensions["redis"])
    assert [job.func_name for job in default.get_jobs()] == ["app.search.tasks.rebuild_index"]
    run_jobs()
    from app.search.backend import SearchQuery

    with in_tenant(acme):
        assert get_backend().search(acme.id, SearchQuery(text="watercolor")).total == 3
