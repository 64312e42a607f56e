"""One pagination scheme on every API list: ``limit`` + a signed, opaque ``cursor``, with
``X-Next-Cursor`` and ``Link: <...>; rel="next"`` while there is a next page.

Keyset lists (notifications by id, the audit log by (created_at, id)) keep a walk exact when
rows arrive between pages; offset lists (console users) walk the same way; bad cursors and
limits are 422s naming the parameter; the spec documents the scheme on every list.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from app.accounts.models import User
from app.console.audit import record_audit
from app.notifications import services as notifications
from app.notifications.models import Notification
from tenants.db import db

NOTIFICATIONS = "/api/v1/notifications"
AUDIT = "/api/v1/console/audit-log"
USERS = "/api/v1/console/users"
# Lists whose 200 is an array that are not pages of a collection: a typeahead answering its
# first few completions (its own `limit`, 1..20); it has no next page to walk to.
NOT_PAGED = {("get", "/api/v1/places")}
# Lists of the API-keys and webhooks slices (merged alongside; not this slice's files): still to take
# @blp.paginate_list() / limit + cursor. The test fails once they do, so this list is dropped.
PENDING_ELSEWHERE: set[tuple[str, str]] = set()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _walk(client, path: str, headers: dict, limit: int = 20, follow: str = "cursor", between=None) -> list:
    """Every page of a list, following X-Next-Cursor (or the Link header); ``between(n)``
    runs after page n. Returns the pages (lists of ids)."""
    pages, url = [], f"{path}?limit={limit}"
    while url:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, response.json
        pages.append([item["id"] for item in response.json])
        token = response.headers.get("X-Next-Cursor")
        link = response.headers.get("Link")
        assert (token is None) == (link is None)
        if token is None:
            break
        match = re.fullmatch(r'<(https?://[^>]+)>; rel="next"', link)
        assert match, link
        next_url = urlsplit(match.group(1))
        assert parse_qs(next_url.query)["cursor"] == [token] and parse_qs(next_url.query)["limit"] == [
            str(limit)
        ]
        url = (
            f"{next_url.path}?{next_url.query}"
            if follow == "link"
            else f"{path}?limit={limit}&cursor={token}"
        )
        if between:
            between(len(pages))
        assert len(pages) < 20, "the walk does not end"
    return pages


@pytest.fixture
def ada(acme, make_user):
    return make_user(acme, email="ada@example.com")


def _notify(in_tenant, acme, user_id: int, n: int) -> list[int]:
    with in_tenant(acme):
        ids = [notifications.notify(user_id, "order_paid", {"order_id": i}).id for i in range(n)]
        db.session.commit()
    return ids


@pytest.mark.parametrize("follow", ["cursor", "link"])
def test_a_keyset_list_of_45_walks_20_20_5_without_duplicates_or_gaps(
    tenant_client, acme, ada, in_tenant, access_token, follow
):
    ids = _notify(in_tenant, acme, ada, 45)
    pages = _walk(tenant_client("acme"), NOTIFICATIONS, bearer(access_token(acme, ada)), follow=follow)
    assert [len(page) for page in pages] == [20, 20, 5]
    assert sum(pages, []) == sorted(ids, reverse=True)


def test_rows_inserted_between_pages_of_a_keyset_list_neither_repeat_nor_push_others_out(
    tenant_client, acme, ada, in_tenant, access_token
):
    ids = _notify(in_tenant, acme, ada, 45)
    arrived = []

    def insert(_page):
        arrived.extend(_notify(in_tenant, acme, ada, 3))

    pages = _walk(tenant_client("acme"), NOTIFICATIONS, bearer(access_token(acme, ada)), between=insert)
    assert [len(page) for page in pages] == [20, 20, 5]
    assert sum(pages, []) == sorted(ids, reverse=True)  # the newcomers are above the walk
    assert len(arrived) == 6
    fresh = tenant_client("acme").get(f"{NOTIFICATIONS}?limit=6", headers=bearer(access_token(acme, ada)))
    assert [n["id"] for n in fresh.json] == sorted(arrived, reverse=True)


def test_a_keyset_on_time_and_id_walks_rows_written_at_the_same_instant(
    tenant_client, acme, in_tenant, access_token
):
    """45 audit entries of one transaction share created_at: the id breaks the tie."""
    with in_tenant(acme):
        admin = db.session.scalar(db.select(User).where(User.email == "admin@acme.test"))
        entries = [record_audit(admin, "user.note", "user", n) for n in range(45)]
        db.session.commit()
        assert len({e.created_at for e in entries}) == 1
        ids, admin_id = [e.id for e in entries], admin.id
    headers = bearer(access_token(acme, admin_id))
    added = []

    def insert(_page):
        with in_tenant(acme):
            admin = db.session.get(User, admin_id)
            added.append(record_audit(admin, "user.note", "user", "late"))
            db.session.commit()

    pages = _walk(tenant_client("acme"), AUDIT, headers, between=insert)
    assert [len(page) for page in pages] == [20, 20, 5]
    assert sum(pages, []) == sorted(ids, reverse=True)


def test_an_offset_list_walks_with_a_cursor_and_a_limit_changed_midway(
    tenant_client, acme, make_user, in_tenant, access_token
):
    for n in range(44):
        make_user(acme, email=f"walker{n}@example.com")
    with in_tenant(acme):
        admin_id = db.session.scalar(db.select(User.id).where(User.email == "admin@acme.test"))
        total = db.session.scalar(db.select(db.func.count(User.id)))
    assert total == 45
    client, headers = tenant_client("acme"), bearer(access_token(acme, admin_id))
    pages = _walk(client, USERS, headers)
    assert [len(page) for page in pages] == [20, 20, 5]
    walked = sum(pages, [])
    assert len(set(walked)) == 45
    # A client may change limit between pages (the offset then falls inside a page).
    first = client.get(f"{USERS}?limit=20", headers=headers)
    second = client.get(f"{USERS}?limit=7&cursor={first.headers['X-Next-Cursor']}", headers=headers)
    assert [u["id"] for u in second.json] == walked[20:27]
    third = client.get(f"{USERS}?limit=30&cursor={second.headers['X-Next-Cursor']}", headers=headers)
    assert [u["id"] for u in third.json] == walked[27:45] and "X-Next-Cursor" not in third.headers


def test_the_deprecated_page_parameters_still_answer_with_their_total(
    tenant_client, acme, ada, in_tenant, access_token
):
    _notify(in_tenant, acme, ada, 5)
    response = tenant_client("acme").get(
        f"{NOTIFICATIONS}?page=2&page_size=2", headers=bearer(access_token(acme, ada))
    )
    assert response.status_code == 200 and len(response.json) == 2
    assert '"total": 5' in response.headers["X-Pagination"]


def test_created_after_and_before_filter_a_feed(tenant_client, acme, ada, in_tenant, access_token):
    ids = _notify(in_tenant, acme, ada, 4)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with in_tenant(acme):
        for n, nid in enumerate(ids):
            db.session.get(Notification, nid).created_at = start + timedelta(days=n)
        db.session.commit()
    client, headers = tenant_client("acme"), bearer(access_token(acme, ada))
    query = {"created_after": "2026-01-02T00:00:00Z", "created_before": "2026-01-04T00:00:00+00:00"}
    response = client.get(NOTIFICATIONS, headers=headers, query_string=query)
    assert [n["id"] for n in response.json] == [ids[2], ids[1]]
    bad = client.get(NOTIFICATIONS, headers=headers, query_string={"created_after": "yesterday"})
    assert bad.status_code == 422 and "created_after" in bad.json["errors"]["query"]


def _cursor_error(response) -> None:
    assert response.status_code == 422, response.data
    assert "cursor" in response.json["errors"]["query"], response.json


def test_a_bad_or_foreign_cursor_is_a_422_naming_cursor(
    tenant_client, acme, globex, ada, make_user, in_tenant, access_token
):
    _notify(in_tenant, acme, ada, 3)
    client, headers = tenant_client("acme"), bearer(access_token(acme, ada))
    token = client.get(f"{NOTIFICATIONS}?limit=1", headers=headers).headers["X-Next-Cursor"]
    assert client.get(f"{NOTIFICATIONS}?limit=1&cursor={token}", headers=headers).status_code == 200
    for bad in ("garbage", token[:-3], token[:10], "a" * 1001, token + "x", "eyJsIjoxfQ.abc"):
        _cursor_error(client.get(NOTIFICATIONS, headers=headers, query_string={"cursor": bad}))
    # A cursor of another list is not one of this list's (an offset one, the console's users).
    with in_tenant(acme):
        admin_id = db.session.scalar(db.select(User.id).where(User.email == "admin@acme.test"))
    admin = bearer(access_token(acme, admin_id))
    users_token = client.get(f"{USERS}?limit=1", headers=admin).headers["X-Next-Cursor"]
    assert client.get(f"{USERS}?limit=1&cursor={users_token}", headers=admin).status_code == 200
    _cursor_error(client.get(NOTIFICATIONS, headers=headers, query_string={"cursor": users_token}))
    _cursor_error(client.get(AUDIT, headers=admin, query_string={"cursor": users_token}))
    _cursor_error(client.get(USERS, headers=admin, query_string={"cursor": token}))
    # Nor is one of the same list on another tenant.
    gada = make_user(globex, email="ada@example.com")
    _notify(in_tenant, globex, gada, 3)
    other = tenant_client("globex")
    gheaders = bearer(access_token(globex, gada))
    assert other.get(f"{NOTIFICATIONS}?limit=1", headers=gheaders).status_code == 200
    _cursor_error(other.get(NOTIFICATIONS, headers=gheaders, query_string={"cursor": token}))
    # Mixing the two schemes is refused too.
    _cursor_error(client.get(NOTIFICATIONS, headers=headers, query_string={"cursor": token, "page": 2}))


@pytest.mark.parametrize("limit", ["0", "101", "x", "-1", "1.5"])
def test_a_limit_outside_1_to_100_is_a_422_naming_limit(tenant_client, acme, ada, access_token, limit):
    for path in (NOTIFICATIONS, "/api/v1/orders", "/api/v1/saved-lists", "/api/v1/conversations"):
        response = tenant_client("acme").get(f"{path}?limit={limit}", headers=bearer(access_token(acme, ada)))
        assert response.status_code == 422, (path, limit)
        assert "limit" in response.json["errors"]["query"], response.json


def test_every_list_of_the_spec_takes_limit_and_cursor_and_documents_the_next_page(tenant_client, acme):
    spec = tenant_client("acme").get("/api/v1/openapi.json").json
    lists = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or method != "get":
                continue
            ok = operation.get("responses", {}).get("200", {})
            schema = ok.get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("type") != "array" or (method, path) in NOT_PAGED:
                continue
            names = {p["name"]: p for p in operation.get("parameters", []) if p.get("in") == "query"}
            if (method, path) in PENDING_ELSEWHERE:
                assert "cursor" not in names, f"{path} pages now: drop it from PENDING_ELSEWHERE"
                continue
            lists.append(f"{method.upper()} {path}")
            assert {"limit", "cursor"} <= set(names), path
            assert names["limit"]["schema"]["minimum"] == 1 and names["limit"]["schema"]["maximum"] == 100
            assert {"Link", "X-Next-Cursor"} <= set(ok.get("headers", {})), path
            assert "422" in operation["responses"], path
    assert len(lists) >= 50, lists
