"""Gig rules, called without HTTP: creation, validation, ownership, versions, states, events, images."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.gigs import services
from app.gigs.models import Category, Gig, GigImage
from app.gigs.services import GigError, GigForbidden, GigNotFound, GigStateError, GigVersionConflict
from tenants.db import db


def _user(user_id):
    return db.session.get(User, user_id)


def _gig(gig_id):
    return db.session.get(Gig, gig_id)


# --- creating -------------------------------------------------------------------


def test_seller_creates_a_draft_with_three_packages(acme, make_seller, in_tenant, kit, events_of):
    seller_id = make_seller(acme)
    with in_tenant(acme):
        gig = services.create_gig(_user(seller_id), kit.gig_data(category_id=kit.first_subcategory_id()))
        db.session.commit()
        assert gig.status == "draft" and gig.version == 1
        assert [p.tier for p in gig.packages] == ["basic", "standard", "premium"]
        assert gig.min_price_minor == 5000 and gig.min_delivery_days == 3
        assert gig.slug.startswith("i-will-design-a-modern-minimalist-logo-")
        assert (
            "<strong>clean</strong>" in gig.description_html
            and "<li>three concepts</li>" in gig.description_html
        )
        assert gig.package("premium").unlimited_revisions
    assert events_of(acme) == []  # drafts are private: nothing to index


def test_a_user_without_a_seller_profile_cannot_create_a_gig(acme, make_user, in_tenant, kit):
    user_id = make_user(acme)
    with in_tenant(acme):
        with pytest.raises(GigForbidden):
            services.create_gig(_user(user_id), kit.gig_data())
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Gig)) == 0


def test_a_draft_needs_only_a_title(acme, make_seller, in_tenant):
    seller_id = make_seller(acme)
    with in_tenant(acme):
        gig = services.create_gig(_user(seller_id), {"title": "I will write your product description"})
        assert gig.packages == [] and gig.min_price_minor is None
        with pytest.raises(GigError) as exc:
            services.create_gig(_user(seller_id), {"description": "no title"})
        assert "title" in exc.value.errors


def _basic(**fields) -> dict:
    return {"packages": [{"tier": "basic", "title": "B", "price_minor": 100, "delivery_days": 3, **fields}]}


BASIC = "packages.basic"
BAD_INPUT = [
    ({"title": "Too short"}, "title"),
    ({"title": "x" * 101}, "title"),
    ({"title": "<script>alert(1)</script> and more words"}, "title"),
    ({"title": "I will do &lt;b&gt; things for you"}, "title"),
    ({"category_id": 999_999}, "category_id"),
    ({"category_id": "1"}, "category_id"),
    ({"tags": ["a", "b", "c", "d", "e", "f"]}, "tags"),
    ({"tags": ["one", "two", "three", "four", "five", "six"]}, "tags"),
    ({"tags": ["<b>bold</b>"]}, "tags"),
    ({"tags": ["x" * 21]}, "tags"),
    (_basic(price_minor=0), f"{BASIC}.price_minor"),
    (_basic(price_minor=-100), f"{BASIC}.price_minor"),
    (_basic(price_minor=10_000_001), f"{BASIC}.price_minor"),
    (_basic(price_minor=10**30), f"{BASIC}.price_minor"),
    (_basic(price_minor=10.5), f"{BASIC}.price_minor"),
    (_basic(delivery_days=0), f"{BASIC}.delivery_days"),
    (_basic(delivery_days=91), f"{BASIC}.delivery_days"),
    (_basic(revisions=21), f"{BASIC}.revisions"),
    (_basic(features=["f"] * 11), f"{BASIC}.features"),
    ({"packages": [{**_basic()["packages"][0], "tier": "standard"}]}, BASIC),
    ({"packages": [{**_basic()["packages"][0], "tier": "gold"}]}, "packages"),
    (_basic(title="<img src=x onerror=alert(1)>"), f"{BASIC}.title"),
    ({"extras": [{"title": "Rush", "price_minor": 0}]}, "extras.0.price_minor"),
    ({"extras": [{"title": "Way too fast", "price_minor": 100, "extra_days": -4}]}, "extras.0.extra_days"),
    ({"faqs": [{"question": "Why?", "answer": ""}]}, "faqs.0.answer"),
    ({"faqs": [{"question": "<script>x</script>", "answer": "ok"}]}, "faqs.0.question"),
    ({"faqs": [{"question": "Q?", "answer": "A"}] * 11}, "faqs"),
    ({"colour": "red"}, "colour"),
]


@pytest.mark.parametrize(("change", "field"), BAD_INPUT)
def test_bad_input_is_refused_and_changes_nothing(
    acme, make_seller, make_gig, in_tenant, gig_row, change, field
):
    seller_id = make_seller(acme)
    gig_id = make_gig(acme, seller_id, status="draft")
    before = gig_row(acme, gig_id)
    with in_tenant(acme):
        with pytest.raises(GigError) as exc:
            services.update_gig(_user(seller_id), _gig(gig_id), change)
        assert field in exc.value.errors, exc.value.errors
        assert exc.value.status == 422
        db.session.rollback()
    assert gig_row(acme, gig_id) == before


def test_hidden_category_is_refused(acme, make_seller, in_tenant, kit):
    seller_id = make_seller(acme)
    with in_tenant(acme):
        category = db.session.scalar(sa.select(Category).where(Category.parent_id.is_(None)).limit(1))
        category.is_hidden = True
        db.session.commit()
        child_id = category.children[0].id
        with pytest.raises(GigError) as exc:
            services.create_gig(_user(seller_id), kit.gig_data(category_id=child_id))
        assert "category_id" in exc.value.errors


def test_description_is_sanitised(acme, make_seller, in_tenant):
    seller_id = make_seller(acme)
    source = (
        "Hello <script>alert('x')</script> <b onclick=evil()>bold</b>\n\n"
        "[click](javascript:alert(1)) [site](https://example.com) <iframe src=//evil></iframe>\n\n"
        "# Big heading"
    )
    with in_tenant(acme):
        gig = services.create_gig(
            _user(seller_id), {"title": "I will build your landing page", "description": source}
        )
        html = gig.description_html
    assert "<script" not in html and "<iframe" not in html and "<b " not in html
    assert 'href="javascript' not in html and "<b onclick" not in html  # at most visible text
    assert '<a href="https://example.com" rel="nofollow noopener ugc">site</a>' in html
    assert "<h3>Big heading</h3>" in html and "<h1>" not in html
    assert "&lt;script&gt;" in html  # shown as text, never run
    assert gig.description_source.startswith("Hello <script>")  # the seller's text is kept to edit


def test_tags_are_lowercased_and_deduplicated(acme, make_seller, in_tenant):
    seller_id = make_seller(acme)
    with in_tenant(acme):
        gig = services.create_gig(
            _user(seller_id),
            {"title": "I will translate your documents", "tags": ["French", " french ", "Legal  Docs"]},
        )
    assert gig.tags == ["french", "legal docs"]


# --- ownership and versions -----------------------------------------------------------


def test_only_the_owner_edits(acme, make_seller, make_gig, in_tenant, gig_row):
    owner_id, other_id = make_seller(acme), make_seller(acme)
    gig_id = make_gig(acme, owner_id)
    before = gig_row(acme, gig_id)
    with in_tenant(acme):
        for action in (
            lambda g: services.update_gig(_user(other_id), g, {"title": "A stolen title for this gig"}),
            lambda g: services.pause_gig(_user(other_id), g),
            lambda g: services.archive_gig(_user(other_id), g),
            lambda g: services.publish_gig(_user(other_id), g),
            lambda g: services.add_gig_image(_user(other_id), g, b"x"),
        ):
            with pytest.raises(GigForbidden) as exc:
                action(_gig(gig_id))
            assert exc.value.status == 403
        with pytest.raises(GigForbidden):
            services.get_gig_for_owner(_user(other_id), gig_id)
        with pytest.raises(GigNotFound):
            services.get_gig_for_owner(_user(owner_id), gig_id + 1000)
        db.session.rollback()
    assert gig_row(acme, gig_id) == before


def test_update_checks_the_version(acme, make_seller, make_gig, in_tenant, gig_row, events_of):
    seller_id = make_seller(acme)
    gig_id = make_gig(acme, seller_id)
    version = gig_row(acme, gig_id)["version"]
    with in_tenant(acme):
        gig = services.update_gig(
            _user(seller_id), _gig(gig_id), {"title": "I will design a bold vintage logo"}, version
        )
        db.session.commit()
        assert gig.version == version + 1
        with pytest.raises(GigVersionConflict) as exc:
            services.update_gig(_user(seller_id), _gig(gig_id), {"tags": ["late"]}, version)
        assert exc.value.status == 412
    row = gig_row(acme, gig_id)
    assert row["title"] == "I will design a bold vintage logo" and row["tags"] != ["late"]
    assert events_of(acme)[-1] == ("gig.updated", {"gig_id": gig_id})


def test_concurrent_writes_of_one_version_cannot_both_win(
    app, acme, make_seller, make_gig, in_tenant, gig_row
):
    """The version check is also in the UPDATE's WHERE: a race between check and write is caught."""
    seller_id = make_seller(acme)
    gig_id = make_gig(acme, seller_id)
    with in_tenant(acme):
        stale = _gig(gig_id)
        _ = stale.packages  # loaded at version N
        with db.engine.begin() as conn:  # another request commits version N+1 meanwhile
            conn.execute(
                sa.text(f'UPDATE "{acme.schema}".gigs SET version = version + 1 WHERE id = :id'),
                {"id": gig_id},
            )
        with pytest.raises(GigVersionConflict):
            services.update_gig(_user(seller_id), stale, {"tags": ["racer"]}, stale.version)
        db.session.rollback()
    assert gig_row(acme, gig_id)["tags"] != ["racer"]


def test_packages_can_be_replaced_and_keep_the_summary(acme, make_seller, make_gig, in_tenant, gig_row):
    seller_id = make_seller(acme)
    gig_id = make_gig(acme, seller_id)
    with in_tenant(acme):
        services.update_gig(
            _user(seller_id),
            _gig(gig_id),
            _basic(title="Only", price_minor=900, delivery_days=9),
        )
        db.session.commit()
    row = gig_row(acme, gig_id)
    assert row["packages"] == [("basic", "Only", 900, 9, 0, [])]
    assert row["min_price_minor"] == 900 and row["min_delivery_days"] == 9


def test_an_active_gig_must_keep_its_basic_package_and_description(acme, make_seller, make_gig, in_tenant):
    seller_id = make_seller(acme)
    gig_id = make_gig(acme, seller_id)
    with in_tenant(acme):
        with pytest.raises(GigError) as exc:
            services.update_gig(_user(seller_id), _gig(gig_id), {"description": "", "category_id": None})
        assert {"description", "category_id"} <= set(exc.value.errors)


# --- states and events ------------------------------------------------------------------


def test_publish_validates_completeness(acme, make_seller, in_tenant, events_of):
    seller_id = make_seller(acme)
    with in_tenant(acme):
        gig = services.create_gig(_user(seller_id), {"title": "I will edit your podcast episode"})
        with pytest.raises(GigError) as exc:
            services.publish_gig(_user(seller_id), gig)
        assert set(exc.value.errors) == {"description", "category_id", "packages.basic"}
        assert gig.status == "draft"
    assert events_of(acme) == []


def test_lifecycle_publishes_an_event_per_state_change(acme, make_seller, make_gig, in_tenant, events_of):
    seller_id = make_seller(acme)
    gig_id = make_gig(acme, seller_id, status="draft")
    with in_tenant(acme):
        seller = _user(seller_id)
        services.publish_gig(seller, _gig(gig_id))
        services.publish_gig(seller, _gig(gig_id))  # already active: nothing happens
        services.pause_gig(seller, _gig(gig_id))
        services.publish_gig(seller, _gig(gig_id))
        services.archive_gig(seller, _gig(gig_id))
        db.session.commit()
        assert _gig(gig_id).published_at is not None
    payload = {"gig_id": gig_id}
    assert events_of(acme) == [
        ("gig.published", payload),
        ("gig.paused", payload),
        ("gig.published", payload),
        ("gig.archived", payload),
    ]


def test_archived_gigs_are_final_and_drafts_cannot_be_paused(acme, make_seller, make_gig, in_tenant):
    seller_id = make_seller(acme)
    draft_id = make_gig(acme, seller_id, status="draft")
    archived_id = make_gig(acme, seller_id, status="archived")
    with in_tenant(acme):
        seller = _user(seller_id)
        with pytest.raises(GigStateError):
            services.pause_gig(seller, _gig(draft_id))
        for action in (services.publish_gig, lambda s, g: services.update_gig(s, g, {"tags": ["x1"]})):
            with pytest.raises(GigStateError) as exc:
                action(seller, _gig(archived_id))
            assert exc.value.status == 409


def test_visibility_of_each_status(acme, make_seller, make_user, make_gig, in_tenant):
    seller_id = make_seller(acme)
    stranger_id = make_user(acme)
    ids = {
        status: make_gig(acme, seller_id, status=status)
        for status in ("draft", "active", "paused", "archived")
    }
    with in_tenant(acme):
        for status, gig_id in ids.items():
            slug = _gig(gig_id).slug
            assert services.get_public_gig(slug, _user(seller_id)).id == gig_id  # the owner's preview
            if status == "active":
                assert services.get_public_gig(slug, None).id == gig_id
                assert services.get_public_gig(slug, _user(stranger_id)).id == gig_id
            else:
                with pytest.raises(GigNotFound):
                    services.get_public_gig(slug, None)
                with pytest.raises(GigNotFound):
                    services.get_public_gig(slug, _user(stranger_id))
        public, total = services.list_seller_gigs(_user(seller_id))
        assert [g.id for g in public] == [ids["active"]] and total == 1
        mine, total = services.list_seller_gigs(_user(seller_id), include_drafts=True)
        assert {g.id for g in mine} == {ids["draft"], ids["active"], ids["paused"]} and total == 3


def test_a_suspended_sellers_gigs_disappear(acme, make_seller, make_gig, in_tenant):
    seller_id = make_seller(acme)
    gig_id = make_gig(acme, seller_id)
    with in_tenant(acme):
        _user(seller_id).status = "suspended"
        db.session.commit()
        with pytest.raises(GigNotFound):
            services.get_public_gig(_gig(gig_id).slug)
        category = _gig(gig_id).category.parent
        assert services.list_category_gigs(category) == ([], 0)


def test_category_listing_includes_subcategories_and_survives_absurd_pages(
    acme, make_seller, make_gig, in_tenant
):
    seller_id = make_seller(acme)
    gig_id = make_gig(acme, seller_id)
    make_gig(acme, seller_id, status="paused")
    with in_tenant(acme):
        sub = _gig(gig_id).category
        for category in (sub, sub.parent):
            gigs, total = services.list_category_gigs(category)
            assert [g.id for g in gigs] == [gig_id] and total == 1
        assert services.list_category_gigs(sub, page=10**12) == ([], 1)
        assert services.list_category_gigs(sub, page=0) == ([], 1)


# --- images --------------------------------------------------------------------------


def test_images_get_thumbnails_and_at_most_five(app, acme, make_seller, make_gig, in_tenant, kit, events_of):
    from app.storage import storage

    seller_id = make_seller(acme)
    gig_id = make_gig(acme, seller_id)
    with in_tenant(acme):
        seller = _user(seller_id)
        image = services.add_gig_image(seller, _gig(gig_id), kit.png((2400, 1200)))
        db.session.commit()
        assert (image.width, image.height) == (1600, 800)
        assert storage.exists(image.key) and storage.exists(image.thumb_key)
        for _ in range(4):
            services.add_gig_image(seller, _gig(gig_id), kit.png())
        db.session.commit()
        with pytest.raises(GigError) as exc:
            services.add_gig_image(seller, _gig(gig_id), kit.png())
        assert "at most 5" in exc.value.errors["image"]
        db.session.rollback()
        assert len(_gig(gig_id).images) == 5
    assert events_of(acme).count(("gig.updated", {"gig_id": gig_id})) == 5


def test_a_non_image_is_refused(acme, make_seller, make_gig, in_tenant):
    seller_id = make_seller(acme)
    gig_id = make_gig(acme, seller_id)
    with in_tenant(acme):
        with pytest.raises(GigError) as exc:
            services.add_gig_image(_user(seller_id), _gig(gig_id), b"<svg onload=alert(1)></svg>")
        assert exc.value.errors["image"] == "The file is not an image."
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(GigImage)) == 0


def test_removing_an_image_deletes_its_files_after_commit(acme, make_seller, make_gig, in_tenant, kit):
    from app.storage import storage

    seller_id = make_seller(acme)
    gig_id = make_gig(acme, seller_id)
    with in_tenant(acme):
        seller = _user(seller_id)
        first = services.add_gig_image(seller, _gig(gig_id), kit.png())
        second = services.add_gig_image(seller, _gig(gig_id), kit.png())
        db.session.commit()
        key, second_id = first.key, second.id
        services.remove_gig_image(seller, _gig(gig_id), first.id)
        assert storage.exists(key)  # not before the commit
        db.session.commit()
        assert not storage.exists(key)
        assert [(i.id, i.position) for i in _gig(gig_id).images] == [(second_id, 0)]
        with pytest.raises(GigNotFound):
            services.remove_gig_image(seller, _gig(gig_id), 12345)


# --- tenants ---------------------------------------------------------------------------


def test_equal_ids_in_two_tenants_never_meet(acme, globex, make_seller, make_gig, in_tenant, gig_row):
    acme_seller = make_seller(acme, email="same@example.com")
    globex_seller = make_seller(globex, email="same@example.com")
    assert acme_seller == globex_seller
    acme_gig = make_gig(acme, acme_seller, title="I will design an acme logo for you")
    globex_gig = make_gig(globex, globex_seller, title="I will design a globex logo for you")
    assert acme_gig == globex_gig
    with in_tenant(acme):
        services.update_gig(_user(acme_seller), _gig(acme_gig), {"tags": ["acme-only"]})
        services.pause_gig(_user(acme_seller), _gig(acme_gig))
        db.session.commit()
    globex_row = gig_row(globex, globex_gig)
    assert globex_row["status"] == "active" and "acme-only" not in globex_row["tags"]
    assert globex_row["title"] == "I will design a globex logo for you"
    with in_tenant(globex):
        assert services.get_public_gig(globex_row["slug"]).id == globex_gig
        with pytest.raises(GigNotFound):
            services.get_public_gig(gig_row(acme, acme_gig)["slug"])
