"""Saved gigs and lists: the services' rules (app/discovery/saved.py)."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from app.discovery import saved
from app.discovery.errors import DiscoveryError, DiscoveryNotFound
from app.discovery.models import SavedGig, SavedList
from app.gigs import services as gig_services
from app.gigs.models import Gig
from tenants.db import db


def test_the_default_list_is_made_on_first_use_and_only_once(acme, saved_shop, as_user):
    s = saved_shop(acme)
    with as_user(acme, s.buyer) as buyer:
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SavedList)) == 0
        first = saved.default_list(buyer)
        again = saved.default_list(buyer)
        assert first.id == again.id and first.name == "Saved" and first.is_default
    with as_user(acme, s.buyer) as buyer:
        summaries = saved.lists_of(buyer)
        assert [(x.name, x.count, x.is_default) for x in summaries] == [("Saved", 0, True)]


def test_saving_is_idempotent_and_goes_to_the_default_list(acme, saved_shop, as_user):
    s = saved_shop(acme)
    with as_user(acme, s.buyer) as buyer:
        one = saved.save_gig(buyer, s.gigs[0])
        two = saved.save_gig(buyer, s.gigs[0])
        assert one.list_id == two.list_id == saved.default_list(buyer).id
        assert one.available and one.gig.id == s.gigs[0]
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SavedGig)) == 1
        assert saved.is_saved(buyer, s.gigs[0]) and not saved.is_saved(buyer, s.gigs[1])
        assert saved.saved_ids(buyer, [*s.gigs, 999]) == {s.gigs[0]}


def test_only_an_active_gig_of_an_active_seller_can_be_saved(acme, saved_shop, as_user, make_gig, make_user):
    s = saved_shop(acme)
    paused = make_gig(acme, s.seller, status="paused", title="I will paint your portrait today")
    draft = make_gig(acme, s.seller, status="draft", title="I will write a song about your cat")
    with as_user(acme, s.buyer) as buyer:
        with pytest.raises(DiscoveryError) as unknown:
            saved.save_gig(buyer, 999_999)
        assert unknown.value.status == 422 and unknown.value.errors == {"gig_id": "This gig does not exist."}
        with pytest.raises(DiscoveryError) as paused_error:
            saved.save_gig(buyer, paused)
        assert "not available" in paused_error.value.errors["gig_id"]
        # A draft is nobody's business but its seller's: it "does not exist".
        with pytest.raises(DiscoveryError) as draft_error:
            saved.save_gig(buyer, draft)
        assert draft_error.value.errors == {"gig_id": "This gig does not exist."}
        for nonsense in (None, "abc", -1, 2**40, True):
            with pytest.raises(DiscoveryError):
                saved.save_gig(buyer, nonsense)
    with as_user(acme, s.seller) as seller:
        seller.status = "suspended"
    with as_user(acme, s.buyer) as buyer, pytest.raises(DiscoveryError) as suspended:
        saved.save_gig(buyer, s.gigs[0])
    assert suspended.value.code == "gig_unavailable"


def test_a_seller_may_save_their_own_gig_but_is_not_counted(acme, saved_shop, as_user):
    s = saved_shop(acme)
    with as_user(acme, s.seller) as seller:
        saved.save_gig(seller, s.gigs[0])
    with as_user(acme, s.buyer) as buyer:
        saved.save_gig(buyer, s.gigs[0])
        named = saved.create_list(buyer, "Logos")
        saved.save_gig(buyer, s.gigs[0], named.id)  # twice by one buyer: counted once
        saved.save_gig(buyer, s.gigs[1], named.id)
    with as_user(acme, s.other) as other:
        saved.save_gig(other, s.gigs[0])
    with as_user(acme, s.buyer):
        assert saved.save_counts([*s.gigs, 12345]) == {s.gigs[0]: 2, s.gigs[1]: 1}
        assert saved.save_counts([]) == {}


def test_list_names_are_trimmed_bounded_and_unique_per_user(acme, saved_shop, as_user):
    s = saved_shop(acme)
    with as_user(acme, s.buyer) as buyer:
        created = saved.create_list(buyer, "  Logo   ideas ")
        assert created.name == "Logo ideas"
        for bad, code in (("", "name_missing"), ("   ", "name_missing"), ("x" * 61, "name_too_long")):
            with pytest.raises(DiscoveryError) as refused:
                saved.create_list(buyer, bad)
            assert refused.value.code == code and "name" in refused.value.errors
        with pytest.raises(DiscoveryError) as dup:
            saved.create_list(buyer, "LOGO IDEAS")
        assert dup.value.code == "name_taken"
        with pytest.raises(DiscoveryError):
            saved.create_list(buyer, "saved")  # the default list's name
        assert saved.create_list(buyer, "x" * 60).name == "x" * 60
    with as_user(acme, s.other) as other:
        assert saved.create_list(other, "Logo ideas").name == "Logo ideas"  # another user's namespace


def test_at_most_fifty_lists(acme, saved_shop, as_user, monkeypatch):
    s = saved_shop(acme)
    with as_user(acme, s.buyer) as buyer:
        for n in range(49):
            saved.create_list(buyer, f"List {n}")
        with pytest.raises(DiscoveryError) as refused:
            saved.create_list(buyer, "One too many")
        assert refused.value.code == "too_many_lists"
        assert len(saved.lists_of(buyer)) == 50


def test_a_list_holds_at_most_500_gigs(acme, saved_shop, as_user, monkeypatch):
    monkeypatch.setattr(saved, "GIGS_PER_LIST", 2)
    s = saved_shop(acme, gigs=3)
    with as_user(acme, s.buyer) as buyer:
        saved.save_gig(buyer, s.gigs[0])
        saved.save_gig(buyer, s.gigs[1])
        saved.save_gig(buyer, s.gigs[1])  # already there: still fine
        with pytest.raises(DiscoveryError) as full:
            saved.save_gig(buyer, s.gigs[2])
        assert full.value.code == "list_full"
        other = saved.create_list(buyer, "Other")
        saved.save_gig(buyer, s.gigs[2], other.id)
        with pytest.raises(DiscoveryError) as move_full:
            saved.move_gig(buyer, s.gigs[2], other.id, saved.default_list(buyer).id)
        assert "to_list_id" in move_full.value.errors


def test_rename_and_delete(acme, saved_shop, as_user):
    s = saved_shop(acme)
    with as_user(acme, s.buyer) as buyer:
        logos = saved.create_list(buyer, "Logos")
        web = saved.create_list(buyer, "Web")
        saved.save_gig(buyer, s.gigs[0], logos.id)
        saved.save_gig(buyer, s.gigs[0])
        assert saved.rename_list(buyer, logos.id, " Brand ").name == "Brand"
        assert saved.rename_list(buyer, logos.id, "brand").name == "brand"  # its own name, other case
        with pytest.raises(DiscoveryError) as dup:
            saved.rename_list(buyer, logos.id, "WEB")
        assert dup.value.code == "name_taken"
        default = saved.default_list(buyer)
        assert saved.rename_list(buyer, default.id, "Favourites").is_default
        with pytest.raises(DiscoveryError) as refused:
            saved.delete_list(buyer, default.id)
        assert refused.value.status == 409
        saved.delete_list(buyer, logos.id)
        # Its row went; the gig stays saved in the default list.
        assert saved.saved_ids(buyer) == {s.gigs[0]}
        assert [x.name for x in saved.lists_of(buyer)] == ["Favourites", "Web"]
        with pytest.raises(DiscoveryNotFound):
            saved.delete_list(buyer, logos.id)
        saved.delete_list(buyer, web.id)


def test_unsave_from_one_list_or_from_all(acme, saved_shop, as_user):
    s = saved_shop(acme)
    with as_user(acme, s.buyer) as buyer:
        logos = saved.create_list(buyer, "Logos")
        saved.save_gig(buyer, s.gigs[0])
        saved.save_gig(buyer, s.gigs[0], logos.id)
        assert saved.unsave_gig(buyer, s.gigs[0], logos.id) == 1
        with pytest.raises(DiscoveryNotFound):
            saved.unsave_gig(buyer, s.gigs[0], logos.id)  # not in it any more
        assert saved.is_saved(buyer, s.gigs[0])
        saved.save_gig(buyer, s.gigs[0], logos.id)
        assert saved.unsave_gig(buyer, s.gigs[0]) == 2
        assert saved.unsave_gig(buyer, s.gigs[0]) == 0  # idempotent
        assert saved.unsave_gig(buyer, "nonsense") == 0
        assert not saved.is_saved(buyer, s.gigs[0])


def test_move_between_lists(acme, saved_shop, as_user):
    s = saved_shop(acme)
    with as_user(acme, s.buyer) as buyer:
        default = saved.default_list(buyer)
        logos = saved.create_list(buyer, "Logos")
        saved.save_gig(buyer, s.gigs[0])
        saved.save_gig(buyer, s.gigs[1])
        saved.save_gig(buyer, s.gigs[1], logos.id)
        moved = saved.move_gig(buyer, s.gigs[0], default.id, logos.id)
        assert moved.list_id == logos.id
        # Already in the target: it only leaves the source.
        assert saved.move_gig(buyer, s.gigs[1], default.id, logos.id).list_id == logos.id
        assert saved.list_gigs(buyer, default.id).total == 0
        assert {i.gig.id for i in saved.list_gigs(buyer, logos.id).items} == set(s.gigs)
        assert saved.move_gig(buyer, s.gigs[0], logos.id, logos.id).list_id == logos.id
        with pytest.raises(DiscoveryNotFound):
            saved.move_gig(buyer, s.gigs[0], default.id, logos.id)  # not in the source
        with pytest.raises(DiscoveryError) as unknown_target:
            saved.move_gig(buyer, s.gigs[0], logos.id, 99999)
        assert unknown_target.value.status == 422 and "to_list_id" in unknown_target.value.errors


def test_another_users_list_is_not_found(acme, saved_shop, as_user):
    s = saved_shop(acme)
    with as_user(acme, s.other) as other:
        theirs = saved.create_list(other, "Private").id
        saved.save_gig(other, s.gigs[0], theirs)
    with as_user(acme, s.buyer) as buyer:
        mine = saved.default_list(buyer).id
        saved.save_gig(buyer, s.gigs[1])
        for call in (
            lambda: saved.list_gigs(buyer, theirs),
            lambda: saved.rename_list(buyer, theirs, "Mine now"),
            lambda: saved.delete_list(buyer, theirs),
            lambda: saved.save_gig(buyer, s.gigs[1], theirs),
            lambda: saved.unsave_gig(buyer, s.gigs[0], theirs),
            lambda: saved.move_gig(buyer, s.gigs[0], theirs, mine),
            lambda: saved.list_summary(buyer, theirs),
        ):
            with pytest.raises(DiscoveryNotFound) as refused:
                call()
            assert refused.value.status == 404
        with pytest.raises(DiscoveryError) as into_theirs:
            saved.move_gig(buyer, s.gigs[1], mine, theirs)
        assert into_theirs.value.status == 422
    with as_user(acme, s.other) as other:
        assert saved.list_summary(other, theirs).count == 1


def test_paused_gigs_stay_listed_after_the_available_ones(acme, saved_shop, as_user, in_tenant):
    s = saved_shop(acme, gigs=3)
    with as_user(acme, s.buyer) as buyer:
        for gig_id in s.gigs:
            saved.save_gig(buyer, gig_id)
    with as_user(acme, s.seller) as seller:
        gig_services.pause_gig(seller, db.session.get(Gig, s.gigs[2]))
    with as_user(acme, s.buyer) as buyer:
        page = saved.list_gigs(buyer, saved.default_list(buyer).id)
        assert [(i.gig.id, i.available) for i in page.items] == [
            (s.gigs[1], True),
            (s.gigs[0], True),
            (s.gigs[2], False),
        ]
        assert page.total == 3
        second = saved.list_gigs(buyer, page.list.id, page=2, per_page=2)
        assert [i.gig.id for i in second.items] == [s.gigs[2]] and second.pages == 2
        assert saved.list_gigs(buyer, page.list.id, page=99).items == []
        # The cover and the count: the count holds the paused gig too.
        assert saved.lists_of(buyer)[0].count == 3


def test_two_saves_of_one_gig_at_once_keep_one_row(app, acme, saved_shop, in_tenant):
    """Two requests save the same gig into the same new default list at the same moment: one
    row, one list, and neither fails."""
    from app.accounts.models import User

    s = saved_shop(acme)
    barrier = threading.Barrier(2)
    errors = []

    def save():
        try:
            with in_tenant(acme):
                buyer = db.session.get(User, s.buyer)
                barrier.wait(timeout=5)
                saved.save_gig(buyer, s.gigs[0])
                db.session.commit()
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=save) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SavedGig)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SavedList)) == 1


def test_the_choosers_lists_carry_the_same_names_order_and_counts_as_lists_of(
    acme, globex, saved_shop, as_user
):
    s = saved_shop(acme, gigs=3)
    with as_user(acme, s.buyer) as buyer:
        ideas = saved.create_list(buyer, "Logo ideas")
        saved.save_gig(buyer, s.gigs[0])
        saved.save_gig(buyer, s.gigs[1], list_id=ideas.id)
        saved.save_gig(buyer, s.gigs[2], list_id=ideas.id)
        saved.create_list(buyer, "Empty")
        db.session.commit()
        full = [(x.id, x.name, x.count, x.is_default) for x in saved.lists_of(buyer)]
        chooser = saved.chooser_lists(buyer)
        assert [(x.id, x.name, x.count, x.is_default) for x in chooser] == full
        assert [x.count for x in chooser] == [1, 2, 0] and all(x.cover_key is None for x in chooser)
    other = saved_shop(globex)  # equal user ids in another schema: none of acme's lists
    with as_user(globex, other.buyer) as buyer:
        assert saved.chooser_lists(buyer) == []
