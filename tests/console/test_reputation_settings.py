"""Operator console, reputation settings: the review window, the banned-word hold and list, and
the seller level thresholds (orders, earnings as money, rating, on-time rate, days active per
level), on the web and the API; admins only.

Thresholds are checked in ``app/reviews/settings.py``: each in its range, and ascending field by
field (Level 1 <= Level 2 <= Top Rated). A change is audited as ``reviews.settings.update``; a
refusal shows every bad field at once and stores nothing; each marketplace has its own.
"""

from __future__ import annotations

import pytest

from app.reviews import reputation
from app.reviews import settings as level_settings
from app.reviews.services import ReviewError, review_settings
from tenants.db import db
from tests.console.conftest import ADMIN_PASSWORD, PASSWORD, csrf_token, login, token
from tests.console.review_kit import audit_entries, settings_state

PAGE = "/console/reputation"
API = "/api/v1/console/reviews/settings"


def _admin(tenant_client, tenant):
    return login(tenant_client(tenant.slug), f"admin@{tenant.slug}.test", ADMIN_PASSWORD)


def _admin_api(tenant_client, tenant):
    client = tenant_client(tenant.slug)
    return client, token(client, f"admin@{tenant.slug}.test", ADMIN_PASSWORD)


def _form(client, **overrides) -> dict:
    """The whole settings form as the page fills it (the defaults), with ``overrides``."""
    data = {
        "csrf_token": csrf_token(client, PAGE),
        "window_days": "14",
        "banned_words": "",
    }
    for level, values in reputation.DEFAULT_THRESHOLDS.items():
        data[f"{level}-orders"] = str(values["orders"])
        data[f"{level}-earnings"] = f"{values['earnings_minor'] / 100:.2f}"
        data[f"{level}-rating"] = str(values["rating"])
        data[f"{level}-on_time_rate"] = str(values["on_time_rate"])
        data[f"{level}-days_active"] = str(values["days_active"])
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --------------------------------------------------------------------------- the rules


def test_saved_thresholds_are_merged_over_the_defaults(acme, in_tenant):
    with in_tenant(acme):
        assert level_settings.level_thresholds() == reputation.DEFAULT_THRESHOLDS
        thresholds, changes = level_settings.update_level_thresholds(
            {"level_2": {"orders": 60, "rating": "4.65"}}
        )
        db.session.commit()
        assert changes == {"level_2.orders": [50, 60], "level_2.rating": [4.6, 4.65]}
        saved = level_settings.level_thresholds()
        assert saved == thresholds
        assert saved["level_2"] == {**reputation.DEFAULT_THRESHOLDS["level_2"], "orders": 60, "rating": 4.65}
        assert saved["level_1"] == reputation.DEFAULT_THRESHOLDS["level_1"]
        # Saving the same values again changes (and reports) nothing.
        assert level_settings.update_level_thresholds({"level_2": {"orders": 60}})[1] == {}


def test_levels_may_ask_the_same_but_never_less_than_the_level_below(acme, in_tenant):
    with in_tenant(acme):
        equal = {"level_1": {"orders": 50}, "level_2": {"orders": 50}}
        assert (
            level_settings.update_level_thresholds(equal)[0]["level_2"]["orders"] == 50
        )  # the edge: allowed
        db.session.rollback()
        with pytest.raises(ReviewError) as exc:
            level_settings.update_level_thresholds({"level_2": {"orders": 9, "days_active": 200}})
        assert set(exc.value.field_errors) == {"level_2.orders", "top_rated.days_active"}
        assert "Level 2 must ask at least what Level 1 asks (10)" in exc.value.field_errors["level_2.orders"]
        with pytest.raises(ReviewError) as exc:
            level_settings.update_level_thresholds({"top_rated": {"earnings_minor": 199_999}})
        assert "$2,000.00" in exc.value.field_errors["top_rated.earnings_minor"]
        db.session.rollback()
        assert settings_state() is None  # nothing saved


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("orders", -1),
        ("orders", 2.5),
        ("orders", "ten"),
        ("earnings_minor", -100),
        ("rating", 5.01),
        ("rating", 4.444),
        ("rating", float("nan")),
        ("on_time_rate", 100.5),
        ("days_active", 36_501),
        ("days_active", True),
        ("days_active", None),
    ],
)
def test_thresholds_out_of_range_or_not_numbers_are_refused(acme, in_tenant, field, value):
    with in_tenant(acme):
        with pytest.raises(ReviewError) as exc:
            level_settings.update_level_thresholds({"level_1": {field: value}})
        assert list(exc.value.field_errors) == [f"level_1.{field}"]
        db.session.rollback()
        assert level_settings.level_thresholds() == reputation.DEFAULT_THRESHOLDS


def test_unknown_levels_and_fields_are_refused(acme, in_tenant):
    with in_tenant(acme):
        with pytest.raises(ReviewError) as exc:
            level_settings.update_level_thresholds({"level_9": {"orders": 1}, "level_1": {"speed": 3}})
        assert set(exc.value.field_errors) == {"level_9", "level_1.speed"}
        with pytest.raises(ReviewError):
            level_settings.update_level_thresholds(["level_1"])


# --------------------------------------------------------------------------- the page


def test_the_page_shows_the_saved_values_and_the_defaults_in_the_marketplace_currency(acme, tenant_client):
    admin = _admin(tenant_client, acme)
    html = admin.get(PAGE).get_data(as_text=True)
    assert 'name="window_days" type="text" value="14"' in html
    assert 'name="level_1-earnings" type="text" value="400.00"' in html
    assert "Default $400.00" in html and "Default $20,000.00" in html and "Default 90 %" in html
    assert 'data-testid="thresholds-top_rated"' in html and "Top Rated" in html


def test_an_admin_saves_the_window_banned_words_and_thresholds_audited_together(
    acme, tenant_client, in_tenant
):
    admin = _admin(tenant_client, acme)
    response = admin.post(
        PAGE,
        data=_form(
            admin,
            window_days="21",
            hold_banned_words="y",
            banned_words="Scam\nrubbish, idiot",
            **{"level_1-orders": "5", "level_1-earnings": "250.50", "top_rated-rating": "4,8"},
        ),
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    with in_tenant(acme):
        stored = settings_state()
        assert stored["window_days"] == 21 and stored["hold_banned_words"] is True
        assert stored["banned_words"] == ["idiot", "rubbish", "scam"]
        thresholds = level_settings.level_thresholds()
        assert thresholds["level_1"]["orders"] == 5 and thresholds["level_1"]["earnings_minor"] == 25050
        assert thresholds["top_rated"]["rating"] == 4.8
        [entry] = audit_entries("reviews.settings")
        assert (entry.action, entry.target_type, entry.target_id, entry.via) == (
            "reviews.settings.update",
            "review_settings",
            "1",
            "web",
        )
        assert entry.changes == {
            "window_days": [14, 21],
            "hold_banned_words": [False, True],
            "banned_words": [[], ["idiot", "rubbish", "scam"]],
            "level_1.orders": [10, 5],
            "level_1.earnings_minor": [40000, 25050],
            "top_rated.rating": [4.7, 4.8],
        }
    html = admin.get(PAGE).get_data(as_text=True)
    assert 'value="21"' in html and 'name="level_1-earnings" type="text" value="250.50"' in html
    # The same form again: nothing changed, nothing audited.
    again = admin.post(
        PAGE,
        data=_form(
            admin,
            window_days="21",
            hold_banned_words="y",
            banned_words="idiot\nrubbish\nscam",
            **{"level_1-orders": "5", "level_1-earnings": "250.50", "top_rated-rating": "4.8"},
        ),
    )
    assert again.status_code == 303
    with in_tenant(acme):
        assert len(audit_entries("reviews.settings")) == 1


@pytest.mark.parametrize(
    ("overrides", "field_id", "message"),
    [
        ({"window_days": "0"}, "window_days", "The review window is 1 to 90 days."),
        ({"window_days": "91"}, "window_days", "The review window is 1 to 90 days."),
        ({"window_days": "two weeks"}, "window_days", "The review window is 1 to 90 days."),
        ({"level_2-orders": "9"}, "level_2-orders", "Level 2 must ask at least what Level 1 asks (10)."),
        (
            {"top_rated-earnings": "100.00"},
            "top_rated-earnings",
            "Top Rated must ask at least what Level 2 asks",
        ),
        ({"level_1-rating": "6"}, "level_1-rating", "from 0 to 5"),
        ({"level_1-on_time_rate": "101"}, "level_1-on_time_rate", "from 0 to 100"),
        ({"level_1-earnings": "lots"}, "level_1-earnings", "Enter an amount like"),
        ({"level_1-earnings": "-5"}, "level_1-earnings", "cannot be negative"),
        ({"level_1-days_active": ""}, "level_1-days_active", "enter a whole number"),
    ],
)
def test_bad_settings_show_on_their_field_and_store_nothing(
    acme, tenant_client, in_tenant, overrides, field_id, message
):
    admin = _admin(tenant_client, acme)
    # A good change next to the bad one: it is not kept either.
    response = admin.post(PAGE, data=_form(admin, banned_words="scam", **overrides))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = html.split(f'id="{field_id}-error"')[1].split("</p>")[0]
    assert message in error
    with in_tenant(acme):
        assert settings_state() is None and audit_entries("reviews") == []


def test_every_bad_field_is_reported_at_once(acme, tenant_client):
    admin = _admin(tenant_client, acme)
    response = admin.post(
        PAGE, data=_form(admin, window_days="0", **{"level_1-earnings": "x", "level_2-rating": "4.0"})
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for field_id in ("window_days", "level_1-earnings", "level_2-rating"):
        assert f'id="{field_id}-error"' in html, field_id


def test_moderators_and_members_cannot_change_the_settings(acme, tenant_client, make_user, in_tenant):
    make_user(acme, email="mod@acme.test", role="moderator")
    make_user(acme, email="member@acme.test")
    for email in ("mod@acme.test", "member@acme.test"):
        client = login(tenant_client("acme"), email, PASSWORD)
        assert client.get(PAGE).status_code == 403
        tok = csrf_token(client, "/account")
        assert client.post(PAGE, data={"csrf_token": tok, "window_days": "30"}).status_code == 403
        api = tenant_client("acme")
        headers = token(api, email, PASSWORD)
        assert api.get(API, headers=headers).status_code == 403
        assert api.patch(API, json={"window_days": 30}, headers=headers).status_code == 403
    with in_tenant(acme):
        assert settings_state() is None


# --------------------------------------------------------------------------- the API


def test_the_api_reads_and_patches_the_settings(acme, tenant_client, in_tenant):
    client, headers = _admin_api(tenant_client, acme)
    current = client.get(API, headers=headers)
    assert current.status_code == 200
    assert current.json["window_days"] == 14 and current.json["currency"] == "USD"
    assert current.json["level_thresholds"] == current.json["default_level_thresholds"]
    assert current.json["level_thresholds"]["level_1"]["earnings_minor"] == 40000
    response = client.patch(
        API,
        json={
            "window_days": 7,
            "banned_words": ["Scam"],
            "level_thresholds": {"level_1": {"on_time_rate": 85}},
        },
        headers=headers,
    )
    assert response.status_code == 200, response.json
    assert response.json["window_days"] == 7 and response.json["banned_words"] == ["scam"]
    assert response.json["level_thresholds"]["level_1"]["on_time_rate"] == 85
    assert response.json["level_thresholds"]["level_2"]["on_time_rate"] == 90
    with in_tenant(acme):
        assert review_settings().window_days == 7
        [entry] = audit_entries("reviews.settings")
        assert entry.via == "api" and entry.changes["level_1.on_time_rate"] == [90, 85]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"window_days": 0}, ("window_days",)),
        ({"window_days": 91}, ("window_days",)),
        ({"window_days": "14"}, ("window_days",)),
        ({"hold_banned_words": "maybe"}, ("hold_banned_words",)),
        ({"level_thresholds": {"level_2": {"orders": 1}}}, ("level_thresholds", "level_2", "orders")),
        ({"level_thresholds": {"top_rated": {"rating": 4.5}}}, ("level_thresholds", "top_rated", "rating")),
        (
            {"level_thresholds": {"level_2": {"on_time_rate": 95}}},
            ("level_thresholds", "top_rated", "on_time_rate"),
        ),
        ({"level_thresholds": {"level_1": {"rating": 5.5}}}, ("level_thresholds", "level_1", "rating")),
        (
            {"level_thresholds": {"level_1": {"on_time_rate": -1}}},
            ("level_thresholds", "level_1", "on_time_rate"),
        ),
        ({"level_thresholds": {"level_1": {"orders": -3}}}, ("level_thresholds", "level_1", "orders")),
        ({"level_thresholds": {"level_1": {"orders": "12"}}}, ("level_thresholds", "level_1", "orders")),
        ({"level_thresholds": {"level_9": {"orders": 1}}}, ("level_thresholds", "level_9")),
    ],
)
def test_the_api_refuses_bad_settings_with_field_errors_and_stores_nothing(
    acme, tenant_client, in_tenant, body, path
):
    client, headers = _admin_api(tenant_client, acme)
    response = client.patch(API, json={**body, "banned_words": ["scam"]}, headers=headers)
    assert response.status_code == 422, response.json
    node = response.json["errors"]["json"]
    for key in path:
        node = node[key]
    assert node, response.json
    with in_tenant(acme):
        assert settings_state() is None and audit_entries("reviews") == []


def test_each_marketplace_has_its_own_settings(acme, globex, tenant_client, in_tenant):
    client, headers = _admin_api(tenant_client, acme)
    response = client.patch(
        API, json={"window_days": 30, "level_thresholds": {"level_1": {"orders": 3}}}, headers=headers
    )
    assert response.status_code == 200
    g_client, g_headers = _admin_api(tenant_client, globex)
    theirs = g_client.get(API, headers=g_headers).json
    assert theirs["window_days"] == 14 and theirs["level_thresholds"]["level_1"]["orders"] == 10
    with in_tenant(globex):
        assert settings_state() is None and audit_entries("reviews") == []
        assert level_settings.level_thresholds() == reputation.DEFAULT_THRESHOLDS
    with in_tenant(acme):
        assert level_settings.level_thresholds()["level_1"]["orders"] == 3
