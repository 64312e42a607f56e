"""The Whoosh backend runs only on the Whoosh release its internals were written against; on any
other, search falls back to PostgreSQL with a warning, and comes back to Whoosh without stale data."""

from __future__ import annotations

import importlib
import logging
import sys

import pytest
import whoosh

from app.search import whoosh_internals as internals
from app.search.backend import UnsupportedWhoosh, get_backend
from app.search.pg_backend import WhooshFallbackBackend
from app.search.whoosh_backend import WhooshBackend


def test_the_installed_whoosh_is_the_one_the_internals_were_written_against():
    assert whoosh.versionstring() == internals.WRITTEN_AGAINST == "2.7.4"
    internals.check_version()  # does not raise


def test_another_whoosh_is_refused_by_the_check_and_on_import(monkeypatch):
    monkeypatch.setattr(whoosh, "__version__", (2, 7, 5))
    with pytest.raises(UnsupportedWhoosh, match=r"Whoosh 2\.7\.5 is installed.*Whoosh 2\.7\.4 exactly"):
        internals.check_version()
    # A process that imports the module for the first time is refused before any internal is touched.
    monkeypatch.delitem(sys.modules, "app.search.whoosh_internals")
    with pytest.raises(UnsupportedWhoosh):
        importlib.import_module("app.search.whoosh_internals")

    monkeypatch.setattr(internals, "whoosh", None)  # not installed at all
    with pytest.raises(UnsupportedWhoosh, match="Whoosh is not installed"):
        internals.check_version()


@pytest.fixture
def choose_backend_again(app, monkeypatch):
    """``choose_backend_again()``: forget the app's search backend so the next search picks one again
    (the app's own backend is put back after the test)."""

    def forget():
        monkeypatch.delitem(app.extensions, "search_backend", raising=False)

    return forget


def test_on_another_whoosh_search_falls_back_to_postgresql_with_a_warning(
    acme,
    seller,
    make_gig,
    run_jobs,
    search,
    search_index_dir,
    in_tenant,
    monkeypatch,
    caplog,
    choose_backend_again,
):
    make_gig(acme, seller, title="I will paint a watercolor portrait")
    run_jobs()
    assert search(acme, q="watercolr")[1].corrected == "watercolor"  # Whoosh answers ("did you mean")
    link = search_index_dir / f"t{acme.id}"
    assert link.is_symlink()

    monkeypatch.setattr(whoosh, "__version__", (2, 8, 0))  # the package was upgraded under the app
    with pytest.raises(UnsupportedWhoosh):
        internals.check_version()
    choose_backend_again()
    with caplog.at_level(logging.WARNING, logger="app.search.backend"):
        titles, result = search(acme, q="watercolor")
    assert titles == ["I will paint a watercolor portrait"] and result.total == 1  # PostgreSQL answers
    assert result.corrected is None  # no "did you mean" without Whoosh
    (warning,) = [r for r in caplog.records if r.name == "app.search.backend"]
    assert warning.levelno == logging.WARNING
    assert "Whoosh 2.8.0 is installed" in warning.getMessage() and "PostgreSQL" in warning.getMessage()
    with in_tenant(acme):
        assert isinstance(get_backend(), WhooshFallbackBackend)

    # Writes go on meanwhile; the Whoosh index they skip is retired rather than left stale.
    make_gig(acme, seller, title="I will paint a watercolor landscape")
    run_jobs()
    assert set(search(acme, q="watercolor")[0]) == {
        "I will paint a watercolor portrait",
        "I will paint a watercolor landscape",
    }
    assert not link.exists() and not list(search_index_dir.glob(f"t{acme.id}-*"))

    # The right Whoosh is back: the missing index is answered from PostgreSQL, rebuilt, and complete.
    monkeypatch.setattr(whoosh, "__version__", (2, 7, 4))
    choose_backend_again()
    assert len(search(acme, q="watercolor")[0]) == 2
    run_jobs()  # the rebuild that search queued
    with in_tenant(acme):
        assert isinstance(get_backend(), WhooshBackend) and get_backend().index_state(acme.id) == "ok"
    titles, result = search(acme, q="watercolr")
    assert result.corrected == "watercolor"  # Whoosh again
    assert set(search(acme, q="watercolor")[0]) == {
        "I will paint a watercolor portrait",
        "I will paint a watercolor landscape",
    }
