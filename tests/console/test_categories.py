"""Console categories (issue 7): create, rename, reorder, hide and show the two-level tree;
on the web and the API, audited, bad input refused, one marketplace at a time."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.console.models import AuditEntry
from app.gigs.models import Category
from tenants.db import db
from tests.console.conftest import PASSWORD, admin_web, bearer, csrf_token, login


def tree(in_tenant, tenant) -> list[tuple]:
    """(id, parent_id, name, slug, position, hidden) of every category, by id."""
    with in_tenant(tenant):
        return [
            tuple(r)
            for r in db.session.execute(
                sa.select(
                    Category.id,
                    Category.parent_id,
                    Category.name,
                    Category.slug,
                    Category.position,
                    Category.is_hidden,
                ).order_by(Category.id)
            )
        ]


def category_id(in_tenant, tenant, slug) -> int:
    with in_tenant(tenant):
        return db.session.scalar(sa.select(Category.id).where(Category.slug == slug))


def audit(in_tenant, tenant) -> list[tuple]:
    with in_tenant(tenant):
        rows = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action.startswith("category.")).order_by(AuditEntry.id)
        )
        return [(r.action, r.via, r.target_id, r.changes) for r in rows]


def home_categories(tenant_client, slug="acme") -> list[str]:
    html = tenant_client(slug).get("/").get_data(as_text=True)
    return re.findall(r'href="/c/([a-z0-9-]+)"', html)


def test_admin_creates_renames_reorders_and_hides_categories_on_the_web(tenant_client, acme, in_tenant):
    client = admin_web(tenant_client, acme)
    assert "graphics-design" in home_categories(tenant_client)  # cached before the changes

    token = csrf_token(client, "/console/categories")
    response = client.post(
        "/console/categories", data={"csrf_token": token, "name": "  AI   Services ", "parent_id": ""}
    )
    assert response.status_code == 302
    ai = category_id(in_tenant, acme, "ai-services")
    assert home_categories(tenant_client)[-1] == "ai-services"

    token = csrf_token(client, "/console/categories")
    parent = category_id(in_tenant, acme, "graphics-design")
    client.post(
        "/console/categories", data={"csrf_token": token, "name": "Prompt Design", "parent_id": str(ai)}
    )
    assert tree(in_tenant, acme)[-1][1:] == (ai, "Prompt Design", "prompt-design", 0, False)

    # Rename keeps the address unless a new one is given.
    token = csrf_token(client, "/console/categories")
    response = client.post(
        f"/console/categories/{parent}",
        data={
            f"c{parent}-csrf_token": token,
            f"c{parent}-name": "Design",
            f"c{parent}-slug": "graphics-design",
        },
    )
    assert response.status_code == 302
    assert "Design</a>" in tenant_client("acme").get("/").get_data(as_text=True)

    # Move up: AI Services goes one place up among the top-level categories.
    order_before = home_categories(tenant_client)
    tops = [s for s in order_before if s in {r[3] for r in tree(in_tenant, acme) if r[1] is None}]
    token = csrf_token(client, "/console/categories")
    client.post(f"/console/categories/{ai}/action", data={"csrf_token": token, "action": "up"})
    tops_after = [s for s in home_categories(tenant_client) if s in tops]
    assert tops_after == [*tops[:-2], "ai-services", tops[-2]]

    # Hide takes it (and its subcategory) off the home page; show brings it back.
    token = csrf_token(client, "/console/categories")
    client.post(f"/console/categories/{ai}/action", data={"csrf_token": token, "action": "hide"})
    shown = home_categories(tenant_client)
    assert "ai-services" not in shown and "prompt-design" not in shown
    assert tenant_client("acme").get("/c/prompt-design").status_code == 404
    html = client.get("/console/categories").get_data(as_text=True)
    assert "Hidden" in html and "ai-services" in html  # the console still lists it
    token = csrf_token(client, "/console/categories")
    client.post(f"/console/categories/{ai}/action", data={"csrf_token": token, "action": "show"})
    assert "prompt-design" in home_categories(tenant_client)

    actions = [a[0] for a in audit(in_tenant, acme)]
    assert actions == [
        "category.create",
        "category.create",
        "category.update",
        "category.update",
        "category.hide",
        "category.show",
    ]
    assert audit(in_tenant, acme)[2][3] == {"name": ["Graphics & Design", "Design"]}
    assert {a[1] for a in audit(in_tenant, acme)} == {"web"}


def test_category_api_tree_create_patch_and_reorder(tenant_client, acme, in_tenant):
    client, headers = bearer(tenant_client, acme)
    listed = client.get("/api/v1/console/categories", headers=headers).json
    assert len(listed) == 8 and listed[0]["slug"] == "graphics-design" and len(listed[0]["children"]) == 5
    assert listed[0]["children"][0]["gig_count"] == 0

    created = client.post(
        "/api/v1/console/categories",
        json={"name": "Logo Design", "parent_id": listed[1]["id"], "description": "Marks for software"},
        headers=headers,
    )
    # "logo-design" exists under Graphics & Design: the new one is named after its parent.
    assert created.status_code == 201, created.json
    assert created.json["slug"] == "programming-tech-logo-design" and created.json["position"] == 5

    sub = listed[0]["children"][2]["id"]
    moved = client.patch(f"/api/v1/console/categories/{sub}", json={"position": 0}, headers=headers)
    assert moved.status_code == 200 and moved.json["position"] == 0
    children = client.get(f"/api/v1/console/categories/{listed[0]['id']}", headers=headers).json["children"]
    assert [c["position"] for c in children] == [0, 1, 2, 3, 4] and children[0]["id"] == sub

    ids = [c["id"] for c in listed]
    reordered = client.put(
        "/api/v1/console/categories/order", json={"parent_id": None, "ids": ids[::-1]}, headers=headers
    )
    assert reordered.status_code == 200 and [c["id"] for c in reordered.json] == ids[::-1]
    assert home_categories(tenant_client)[0] == listed[-1]["slug"]

    hidden = client.patch(f"/api/v1/console/categories/{ids[0]}", json={"is_hidden": True}, headers=headers)
    assert hidden.json["is_hidden"] is True and "graphics-design" not in home_categories(tenant_client)

    renamed = client.patch(
        f"/api/v1/console/categories/{ids[0]}", json={"name": "Design", "slug": "design"}, headers=headers
    )
    assert renamed.json["slug"] == "design"
    actions = [a[0] for a in audit(in_tenant, acme)]
    assert actions == [
        "category.create",
        "category.update",
        "category.reorder",
        "category.hide",
        "category.update",
    ]
    assert {a[1] for a in audit(in_tenant, acme)} == {"api"}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("post", "/api/v1/console/categories", {"name": "graphics & DESIGN"}, 409, "name"),
        (
            "post",
            "/api/v1/console/categories",
            {"name": "Logo Design", "parent_id": "{graphics}"},
            409,
            "name",
        ),
        ("post", "/api/v1/console/categories", {"name": "New", "slug": "logo-design"}, 409, "slug"),
        ("post", "/api/v1/console/categories", {"name": "New", "slug": "Not A Slug"}, 422, "slug"),
        ("post", "/api/v1/console/categories", {"name": "   "}, 422, "name"),
        ("post", "/api/v1/console/categories", {"name": "x" * 81}, 422, "name"),
        ("post", "/api/v1/console/categories", {"name": "Deep", "parent_id": "{logo}"}, 422, "parent_id"),
        ("post", "/api/v1/console/categories", {"name": "Orphan", "parent_id": 99999}, 404, None),
        ("post", "/api/v1/console/categories", {"name": "Orphan", "parent_id": "7"}, 422, "parent_id"),
        ("patch", "/api/v1/console/categories/{logo}", {"name": "Illustration"}, 409, "name"),
        ("patch", "/api/v1/console/categories/{logo}", {"slug": "graphics-design"}, 409, "slug"),
        ("patch", "/api/v1/console/categories/{logo}", {"position": -1}, 422, "position"),
        ("patch", "/api/v1/console/categories/{logo}", {"is_hidden": "maybe"}, 422, "is_hidden"),
        ("patch", "/api/v1/console/categories/{logo}", {"parent_id": 1}, 422, "parent_id"),
        ("patch", "/api/v1/console/categories/99999", {"name": "Ghost"}, 404, None),
        ("put", "/api/v1/console/categories/order", {"parent_id": None, "ids": [1, 2]}, 422, "ids"),
        (
            "put",
            "/api/v1/console/categories/order",
            {"parent_id": None, "ids": [1, 1, 2, 3, 4, 5, 6, 7]},
            422,
            "ids",
        ),
        ("put", "/api/v1/console/categories/order", {"parent_id": 99999, "ids": []}, 404, None),
    ],
)
def test_bad_category_changes_are_refused_and_change_nothing(
    tenant_client, acme, in_tenant, method, path, body, status, field
):
    ids = {
        "graphics": category_id(in_tenant, acme, "graphics-design"),
        "logo": category_id(in_tenant, acme, "logo-design"),
    }
    path = path.format(**ids)
    body = {
        k: (int(v.format(**ids)) if isinstance(v, str) and v.startswith("{") else v) for k, v in body.items()
    }
    client, headers = bearer(tenant_client, acme)
    before = tree(in_tenant, acme)
    response = getattr(client, method)(path, json=body, headers=headers)
    assert response.status_code == status, response.json
    if field:
        assert field in response.json["errors"]["json"], response.json
    assert response.json.get("message") or response.json["errors"]
    assert tree(in_tenant, acme) == before and audit(in_tenant, acme) == []


def test_bad_names_on_the_web_forms_are_shown_and_change_nothing(tenant_client, acme, in_tenant):
    client = admin_web(tenant_client, acme)
    before = tree(in_tenant, acme)
    token = csrf_token(client, "/console/categories")
    response = client.post(
        "/console/categories", data={"csrf_token": token, "name": "Graphics & Design", "parent_id": ""}
    )
    assert response.status_code == 409
    assert "already exists at the top level" in response.get_data(as_text=True)

    logo = category_id(in_tenant, acme, "logo-design")
    token = csrf_token(client, "/console/categories")
    response = client.post(
        "/console/categories", data={"csrf_token": token, "name": "Too deep", "parent_id": str(logo)}
    )
    assert response.status_code == 422 and "cannot have subcategories" in response.get_data(as_text=True)

    token = csrf_token(client, "/console/categories")
    response = client.post(
        f"/console/categories/{logo}",
        data={f"c{logo}-csrf_token": token, f"c{logo}-name": "Logos", f"c{logo}-slug": "Bad Slug!"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="c{logo}-slug-error"' in html and "lower-case letters" in html
    assert tree(in_tenant, acme) == before and audit(in_tenant, acme) == []


def test_moderators_cannot_change_categories(tenant_client, acme, in_tenant, make_user):
    make_user(acme, email="mod@acme.test", role="moderator")
    before = tree(in_tenant, acme)
    web = tenant_client("acme")
    login(web, "mod@acme.test", PASSWORD)
    assert web.get("/console/categories").status_code == 403
    token = csrf_token(web, "/account")
    assert web.post("/console/categories", data={"csrf_token": token, "name": "X"}).status_code == 403
    assert (
        web.post("/console/categories/1/action", data={"csrf_token": token, "action": "hide"}).status_code
        == 403
    )
    client, headers = bearer(tenant_client, acme, "mod@acme.test", PASSWORD)
    assert client.get("/api/v1/console/categories", headers=headers).status_code == 403
    assert client.post("/api/v1/console/categories", json={"name": "X"}, headers=headers).status_code == 403
    assert (
        client.patch("/api/v1/console/categories/1", json={"is_hidden": True}, headers=headers).status_code
        == 403
    )
    assert tree(in_tenant, acme) == before and audit(in_tenant, acme) == []


def test_an_operator_of_acme_changes_acme_category_1_never_globex_category_1(
    tenant_client, acme, globex, in_tenant
):
    client, headers = bearer(tenant_client, acme)
    globex_before = tree(in_tenant, globex)
    assert globex_before[0][0] == tree(in_tenant, acme)[0][0] == 1  # equal ids in both schemas

    assert (
        client.patch(
            "/api/v1/console/categories/1", json={"name": "Acme Design"}, headers=headers
        ).status_code
        == 200
    )
    assert tree(in_tenant, acme)[0][2] == "Acme Design"
    assert tree(in_tenant, globex) == globex_before
    # A category only globex has is unknown to acme.
    g_client, g_headers = bearer(tenant_client, globex)
    extra = g_client.post("/api/v1/console/categories", json={"name": "Globex Only"}, headers=g_headers).json[
        "id"
    ]
    assert extra not in [row[0] for row in tree(in_tenant, acme)]
    assert (
        client.patch(f"/api/v1/console/categories/{extra}", json={"name": "x"}, headers=headers).status_code
        == 404
    )
    # The acme token does not work on globex's host.
    assert tenant_client("globex").get("/api/v1/console/categories", headers=headers).status_code == 401
    web = admin_web(tenant_client, acme)
    web.host = "globex.localhost"
    assert web.get("/console/categories").status_code == 302
    assert "Globex Only" not in str(client.get("/api/v1/console/categories", headers=headers).json)
    assert [a[0] for a in audit(in_tenant, globex)] == ["category.create"]
