"""Console branding (issue 7): name, words, colours, logo and favicon, on the web and the API.

Every change is audited, shows on the public pages and in the next email, and refuses bad
input with a clear message while changing nothing. Moderators and other marketplaces'
operators cannot touch it.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from app.console.models import AuditEntry
from app.settings.models import MarketplaceSettings
from app.storage import storage
from tenants.db import db
from tests.console.conftest import admin_web, bearer, csrf_token, login

MODERATOR_PASSWORD = "correct-horse-battery"


def image_bytes(size=(400, 120), color=(200, 30, 60, 255), fmt="PNG") -> bytes:
    out = io.BytesIO()
    mode = "RGBA" if fmt in ("PNG", "WEBP", "GIF") else "RGB"
    Image.new(mode, size, color if mode == "RGBA" else color[:3]).save(out, format=fmt)
    return out.getvalue()


def settings_row(in_tenant, tenant) -> dict:
    with in_tenant(tenant):
        row = db.session.get(MarketplaceSettings, 1)
        return {
            c.name: getattr(row, c.name)
            for c in MarketplaceSettings.__table__.columns
            if c.name != "updated_at"
        }


def audit_entries(in_tenant, tenant, prefix="branding.") -> list[dict]:
    with in_tenant(tenant):
        rows = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action.startswith(prefix)).order_by(AuditEntry.id)
        ).all()
        return [
            {
                "action": r.action,
                "via": r.via,
                "changes": r.changes,
                "actor": r.actor_label,
                "summary": r.summary,
            }
            for r in rows
        ]


def brand_files(app, tenant) -> list:
    folder = Path(app.config["STORAGE_LOCAL_DIR"]) / f"t{tenant.id}" / "branding"
    return sorted(folder.glob("*")) if folder.exists() else []


def page(client, path="/") -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


# --------------------------------------------------------------------------- web


def test_admin_rebrands_on_the_web_and_the_public_home_page_shows_it_at_once(tenant_client, acme, in_tenant):
    client = admin_web(tenant_client, acme)
    visitor = tenant_client("acme")
    assert "Acme Test Market" in page(visitor)  # cached before the change

    token = csrf_token(client, "/console/branding")
    response = client.post(
        "/console/branding",
        data={
            "csrf_token": token,
            "name": "Acme Talent",
            "tagline": "Freelancers you can trust",
            "hero_text": "Design, code and words.\n\nDelivered on time.",
            "primary_color": "#123ABC",
            "accent_color": "#0a0b0c",
        },
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/console/branding")

    html = page(visitor)
    assert 'data-testid="marketplace-name">Acme Talent<' in html
    assert "<title>Acme Talent</title>" in html
    assert "Freelancers you can trust" in html
    assert "<p>Design, code and words.</p><p>Delivered on time.</p>" in html
    assert "--brand-primary: #123abc; --brand-accent: #0a0b0c;" in html
    assert "Branding saved" in page(client, "/console/branding")

    (entry,) = audit_entries(in_tenant, acme)
    assert entry["action"] == "branding.update" and entry["via"] == "web"
    assert entry["actor"].endswith("<admin@acme.test>")
    assert entry["changes"]["name"] == ["Acme Test Market", "Acme Talent"]
    assert entry["changes"]["primary_color"] == ["#0f766e", "#123abc"]
    assert set(entry["changes"]) == {"name", "tagline", "hero_text", "primary_color", "accent_color"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("primary_color", "red", "must be a colour like #1a2b3c"),
        ("accent_color", "#12345g", "must be a colour like #1a2b3c"),
        ("primary_color", "#1234567", "must be a colour like #1a2b3c"),
        ("name", "   ", "is required"),
    ],
)
def test_bad_branding_on_the_web_form_is_shown_on_its_field_and_changes_nothing(
    tenant_client, acme, in_tenant, field, value, message
):
    client = admin_web(tenant_client, acme)
    before = settings_row(in_tenant, acme)
    data = {
        "csrf_token": csrf_token(client, "/console/branding"),
        "name": "New name",
        "tagline": "",
        "hero_text": "",
        "primary_color": "#111111",
        "accent_color": "#222222",
        field: value,
    }
    response = client.post("/console/branding", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f'id="{field}-error"' in html
    assert message in html or "Enter the marketplace" in html
    assert settings_row(in_tenant, acme) == before
    assert audit_entries(in_tenant, acme) == []


def test_the_branding_page_previews_colours_and_warns_about_poor_contrast(tenant_client, acme):
    client = admin_web(tenant_client, acme)
    html = page(client, "/console/branding")
    assert 'id="brand-preview"' in html and "--preview-primary: #0f766e" in html
    assert "js/console_branding.js" in html and 'nonce="' in html
    assert "contrast-warnings" not in html

    _client, headers = bearer(tenant_client, acme)
    response = _client.patch("/api/v1/console/branding", json={"primary_color": "#f5f5f5"}, headers=headers)
    assert response.status_code == 200
    assert "contrast" in response.json["contrast_warnings"][0]
    assert "White text on the primary colour #f5f5f5" in page(client, "/console/branding")


def test_logo_upload_on_the_web_shows_in_the_header_and_is_served_with_a_long_cache(
    tenant_client, acme, in_tenant
):
    client = admin_web(tenant_client, acme)
    token = csrf_token(client, "/console/branding")
    response = client.post(
        "/console/branding/logo",
        data={"logo-csrf_token": token, "logo-image": (io.BytesIO(image_bytes((1600, 400))), "logo.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]

    html = page(tenant_client("acme"))
    url = re.search(r'<img src="(/brand/logo-[0-9a-f]{16}\.png)" alt="" class="brand-logo"', html).group(1)
    served = tenant_client("acme").get(url)
    assert served.status_code == 200 and served.mimetype == "image/png"
    assert (
        "immutable" in served.headers["Cache-Control"]
        and "max-age=31536000" in served.headers["Cache-Control"]
    )
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    with Image.open(io.BytesIO(served.data)) as img:
        assert img.format == "PNG" and img.size == (800, 200)  # fitted into 800x240, never upscaled
    assert (
        tenant_client("acme").get(url, headers={"If-None-Match": served.headers["ETag"]}).status_code == 304
    )

    (entry,) = audit_entries(in_tenant, acme)
    assert entry["action"] == "branding.logo" and entry["changes"]["logo_url"] == [None, url]

    # A new upload replaces the file: the old URL is gone, and so is the old file after commit.
    old_key = settings_row(in_tenant, acme)["logo_key"]
    token = csrf_token(client, "/console/branding")
    client.post(
        "/console/branding/logo",
        data={"logo-csrf_token": token, "logo-image": (io.BytesIO(image_bytes(fmt="JPEG")), "logo.jpg")},
        content_type="multipart/form-data",
    )
    assert tenant_client("acme").get(url).status_code == 404
    with in_tenant(acme):
        assert not storage.exists(old_key)
    # Removing it takes the logo off every page.
    token = csrf_token(client, "/console/branding")
    assert client.post("/console/branding/logo/remove", data={"csrf_token": token}).status_code == 302
    assert "brand-logo" not in page(tenant_client("acme"))
    assert [e["action"] for e in audit_entries(in_tenant, acme)] == [
        "branding.logo",
        "branding.logo",
        "branding.logo_removed",
    ]


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (b"", "The file is empty."),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "not an image"),
        (b"GIF89a this is not really a gif", "not an image"),
        ("oversized", "too large"),
        ("tiny", "at least 16×16"),
        ("huge", "at most 4096×4096"),
        ("bmp", "BMP images are not accepted"),
        ("truncated", "damaged or incomplete"),
    ],
)
def test_bad_logo_uploads_are_refused_with_a_clear_message_and_nothing_stored(
    app, tenant_client, acme, in_tenant, upload, message
):
    if upload == "oversized":
        upload = b"\x89PNG" + b"\0" * (app.config["BRANDING_IMAGE_MAX_BYTES"] + 10)
    elif upload == "tiny":
        upload = image_bytes((10, 10))
    elif upload == "huge":
        upload = image_bytes((5000, 20))
    elif upload == "bmp":
        upload = image_bytes((100, 100), fmt="BMP")
    elif upload == "truncated":
        upload = image_bytes((300, 300))[:200]
    client, headers = bearer(tenant_client, acme)
    before = settings_row(in_tenant, acme)
    response = client.put(
        "/api/v1/console/branding/logo",
        data={"file": (io.BytesIO(upload), "logo.png")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 422, response.json
    assert message in response.json["message"]
    assert message in response.json["errors"]["json"]["file"][0]
    assert settings_row(in_tenant, acme) == before
    assert audit_entries(in_tenant, acme) == []
    assert brand_files(app, acme) == []

    web = admin_web(tenant_client, acme)
    token = csrf_token(web, "/console/branding")
    response = web.post(
        "/console/branding/logo",
        data={"logo-csrf_token": token, "logo-image": (io.BytesIO(upload), "logo.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert settings_row(in_tenant, acme) == before


# --------------------------------------------------------------------------- API


def test_branding_api_reads_and_patches_and_refuses_bad_input_field_by_field(tenant_client, acme, in_tenant):
    client, headers = bearer(tenant_client, acme)
    body = client.get("/api/v1/console/branding", headers=headers).json
    assert body["name"] == "Acme Test Market" and body["primary_color"] == "#0f766e"
    assert body["logo_url"] is None and body["favicon_url"] is None

    response = client.patch(
        "/api/v1/console/branding",
        json={"tagline": "Better briefs, better work", "accent_color": "#AABBCC"},
        headers=headers,
    )
    assert response.status_code == 200
    assert (
        response.json["tagline"] == "Better briefs, better work"
        and response.json["accent_color"] == "#aabbcc"
    )
    (entry,) = audit_entries(in_tenant, acme)
    assert entry["via"] == "api" and set(entry["changes"]) == {"tagline", "accent_color"}

    before = settings_row(in_tenant, acme)
    for bad, fields in [
        ({"primary_color": "blue", "accent_color": "#12"}, {"primary_color", "accent_color"}),
        ({"name": ""}, {"name"}),
        ({"tagline": "x" * 201}, {"tagline"}),
        ({"hero_text": "x" * 2001}, {"hero_text"}),
        ({"primary_color": 123}, {"primary_color"}),
        ({"currency": "EUR"}, {"currency"}),  # not a branding field: the settings resource has it
    ]:
        response = client.patch("/api/v1/console/branding", json=bad, headers=headers)
        assert response.status_code == 422, (bad, response.json)
        assert set(response.json["errors"]["json"]) == fields, response.json
    assert settings_row(in_tenant, acme) == before
    # An unchanged save writes no audit entry.
    assert (
        client.patch(
            "/api/v1/console/branding", json={"tagline": "Better briefs, better work"}, headers=headers
        ).status_code
        == 200
    )
    assert len(audit_entries(in_tenant, acme)) == 1


def test_favicon_through_the_api_is_a_64px_square_linked_from_every_page(tenant_client, acme, in_tenant):
    client, headers = bearer(tenant_client, acme)
    response = client.put(
        "/api/v1/console/branding/favicon",
        data={"file": (io.BytesIO(image_bytes((300, 100), fmt="WEBP")), "icon.webp")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.json
    url = response.json["favicon_url"]
    assert re.fullmatch(r"/brand/favicon-[0-9a-f]{16}\.png", url)
    assert f'<link rel="icon" type="image/png" sizes="64x64" href="{url}">' in page(
        tenant_client("acme"), "/login"
    )
    served = tenant_client("acme").get(url)
    with Image.open(io.BytesIO(served.data)) as img:
        assert img.size == (64, 64) and img.mode == "RGBA"
        assert img.getpixel((0, 0))[3] == 0  # padded with transparency, not cropped
        red, green, blue, _alpha = img.getpixel((32, 32))
        assert abs(red - 200) < 4 and abs(green - 30) < 4 and abs(blue - 60) < 4  # WebP is lossy

    assert client.delete("/api/v1/console/branding/favicon", headers=headers).status_code == 204
    assert f'href="{url}"' not in page(tenant_client("acme"))  # removed: the default icon again
    assert 'href="/static/favicon.png"' in page(tenant_client("acme"))
    assert tenant_client("acme").get(url).status_code == 404
    assert [e["action"] for e in audit_entries(in_tenant, acme)] == [
        "branding.favicon",
        "branding.favicon_removed",
    ]


def test_the_next_email_wears_the_new_name_colour_and_logo(tenant_client, acme, make_user, mailbox, run_jobs):
    make_user(acme, email="buyer@example.com")
    client, headers = bearer(tenant_client, acme)
    client.patch(
        "/api/v1/console/branding",
        json={"name": "Acme Talent", "primary_color": "#aa3311", "tagline": "Good work, fast"},
        headers=headers,
    )
    logo = client.put(
        "/api/v1/console/branding/logo",
        data={"file": (io.BytesIO(image_bytes()), "logo.png")},
        headers=headers,
        content_type="multipart/form-data",
    ).json["logo_url"]

    visitor = tenant_client("acme")
    token = csrf_token(visitor, "/password/forgot")
    assert (
        visitor.post("/password/forgot", data={"csrf_token": token, "email": "buyer@example.com"}).status_code
        == 200
    )
    run_jobs()
    (message,) = mailbox.wait_for(1)
    assert message["From"].addresses[0].display_name == "Acme Talent"
    html, text = mailbox.html(message), mailbox.text(message)
    assert "#aa3311" in html and "#0f766e" not in html
    assert f'src="http://acme.localhost{logo}"' in html  # absolute, so mail clients can load it
    assert "Acme Talent - Good work, fast" in text
    assert tenant_client("acme").get(logo).status_code == 200


# --------------------------------------------------------------------------- who may


def test_moderators_members_and_strangers_cannot_change_branding(tenant_client, acme, make_user, in_tenant):
    make_user(acme, email="mod@acme.test", role="moderator")
    make_user(acme, email="member@acme.test")
    before = settings_row(in_tenant, acme)
    for email in ("mod@acme.test", "member@acme.test"):
        web = tenant_client("acme")
        login(web, email, MODERATOR_PASSWORD)
        assert web.get("/console/branding").status_code == 403
        token = csrf_token(web, "/account")
        assert (
            web.post("/console/branding", data={"csrf_token": token, "name": "Hijacked"}).status_code == 403
        )
        client, headers = bearer(tenant_client, acme, email, MODERATOR_PASSWORD)
        assert client.get("/api/v1/console/branding", headers=headers).status_code == 403
        response = client.patch("/api/v1/console/branding", json={"name": "Hijacked"}, headers=headers)
        assert response.status_code == 403 and "admin" in response.json["message"]
        response = client.put(
            "/api/v1/console/branding/logo",
            data={"file": (io.BytesIO(image_bytes()), "logo.png")},
            headers=headers,
            content_type="multipart/form-data",
        )
        assert response.status_code == 403
    anonymous = tenant_client("acme")
    assert anonymous.get("/console/branding").status_code == 302  # to the login page
    assert anonymous.patch("/api/v1/console/branding", json={"name": "x"}).status_code == 401
    assert settings_row(in_tenant, acme) == before
    assert audit_entries(in_tenant, acme) == []


def test_an_operator_of_acme_cannot_see_or_touch_globex_branding(tenant_client, acme, globex, in_tenant):
    acme_client, acme_headers = bearer(tenant_client, acme)
    globex_before = settings_row(in_tenant, globex)
    # The acme token means nothing on globex's host.
    globex_host = tenant_client("globex")
    assert globex_host.get("/api/v1/console/branding", headers=acme_headers).status_code == 401
    assert (
        globex_host.patch(
            "/api/v1/console/branding", json={"name": "Pwned"}, headers=acme_headers
        ).status_code
        == 401
    )
    # Nor does acme's web session (host-only cookie, tenant-bound login).
    web = admin_web(tenant_client, acme)
    web.host = "globex.localhost"
    assert web.get("/console/branding").status_code == 302

    acme_client.patch(
        "/api/v1/console/branding",
        json={"name": "Acme Only", "primary_color": "#010203"},
        headers=acme_headers,
    )
    logo = acme_client.put(
        "/api/v1/console/branding/logo",
        data={"file": (io.BytesIO(image_bytes()), "logo.png")},
        headers=acme_headers,
        content_type="multipart/form-data",
    ).json["logo_url"]
    assert settings_row(in_tenant, globex) == globex_before
    globex_home = page(tenant_client("globex"))
    assert (
        "Globex Test Market" in globex_home
        and "Acme Only" not in globex_home
        and "#010203" not in globex_home
    )
    assert tenant_client("globex").get(logo).status_code == 404  # acme's file is not globex's
    assert audit_entries(in_tenant, globex) == []


def test_the_console_settings_api_is_documented_with_examples(platform_client):
    spec = platform_client.get("/api/v1/openapi.json").json
    paths = spec["paths"]
    expected = {
        "/api/v1/console/branding": {"get", "patch"},
        "/api/v1/console/branding/logo": {"put", "delete"},
        "/api/v1/console/branding/favicon": {"put", "delete"},
        "/api/v1/console/domains": {"get", "post"},
        "/api/v1/console/domains/{domain_id}": {"get", "delete"},
        "/api/v1/console/domains/{domain_id}/verify": {"post"},
        "/api/v1/console/domains/{domain_id}/primary": {"post"},
        "/api/v1/console/settings": {"get", "patch"},
        "/api/v1/console/categories": {"get", "post"},
        "/api/v1/console/categories/order": {"put"},
        "/api/v1/console/categories/{category_id}": {"get", "patch"},
        "/api/v1/console/payments": {"get", "put"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
        for method in methods:
            operation = paths[path][method]
            assert operation["security"] == [{"bearerAuth": []}], (path, method)
            assert {"401", "403"} <= set(operation["responses"]), (path, method)
            assert operation.get("description") or operation.get("summary"), (path, method)
    patch = paths["/api/v1/console/settings"]["patch"]
    assert patch["requestBody"]["content"]["application/json"]["example"]["commission_percent"] == 12.5
    assert "409" in patch["responses"]
    schemas = spec["components"]["schemas"]
    upload = paths["/api/v1/console/branding/logo"]["put"]["requestBody"]["content"]["multipart/form-data"]
    upload_schema = schemas[upload["schema"]["$ref"].rsplit("/", 1)[1]]
    assert upload_schema["properties"]["file"]["format"] == "binary"
    assert schemas["Payments"]["properties"]["secret_key"]["example"] == "sk_test_…a1b2"
    assert "secret_key" not in schemas["PaymentsPut"]["properties"] or schemas["PaymentsPut"]["properties"][
        "secret_key"
    ].get("writeOnly")


def test_an_ico_favicon_is_accepted_and_favicon_ico_points_at_it(tenant_client, acme):
    default = tenant_client("acme").get("/favicon.ico")  # none uploaded yet: the neutral default
    assert default.status_code == 200 and default.mimetype == "image/png"
    icon = io.BytesIO()
    Image.new("RGBA", (32, 32), (10, 200, 30, 255)).save(icon, format="ICO", sizes=[(16, 16), (32, 32)])
    client, headers = bearer(tenant_client, acme)
    response = client.put(
        "/api/v1/console/branding/favicon",
        data={"file": (io.BytesIO(icon.getvalue()), "favicon.ico")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.json
    redirect = tenant_client("acme").get("/favicon.ico")
    assert redirect.status_code == 302 and redirect.headers["Location"] == response.json["favicon_url"]
    with Image.open(io.BytesIO(tenant_client("acme").get(response.json["favicon_url"]).data)) as img:
        assert img.size == (64, 64) and img.getpixel((32, 32)) == (10, 200, 30, 255)
    # An ICO is not a logo format.
    refused = client.put(
        "/api/v1/console/branding/logo",
        data={"file": (io.BytesIO(icon.getvalue()), "logo.ico")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422 and "ICO images are not accepted" in refused.json["message"]
    other = tenant_client("globex").get("/favicon.ico")  # another tenant keeps the default
    assert other.status_code == 200 and other.data == default.data
