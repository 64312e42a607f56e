"""File storage: per-tenant folders, signed expiring URLs that only work on the tenant's own host."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.storage import InvalidKey, StorageNotFound, signing, storage
from app.storage.backends import LocalStorage
from app.storage.signing import read_file_token, sign_file_token, url_expiry
from tenants import provisioning
from tenants.db import db
from tenants.resolver import get_tenant_by_slug

PNG_BYTES = b"\x89PNG\r\n\x1a\n fake png body"


def _save(in_tenant, tenant, data=PNG_BYTES, namespace="avatars", content_type="image/png"):
    with in_tenant(tenant):
        key = storage.save(data, namespace=namespace, filename="me.png", content_type=content_type)
        db.session.commit()  # the file's StoredFile row: /files/ serves only registered files
        return key, storage.url(key)


def test_saved_file_lives_in_the_tenants_own_folder(app, acme, in_tenant):
    key, _ = _save(in_tenant, acme)
    assert key.startswith("avatars/") and key.endswith(".png")
    path = Path(app.config["STORAGE_LOCAL_DIR"]) / f"t{acme.id}" / key
    assert path.read_bytes() == PNG_BYTES
    with in_tenant(acme):
        assert storage.open(key) == PNG_BYTES
        assert storage.exists(key)


def test_a_key_from_one_tenant_opens_nothing_in_another(acme, globex, in_tenant):
    key, _ = _save(in_tenant, acme)
    with in_tenant(globex):
        assert not storage.exists(key)
        with pytest.raises(StorageNotFound):
            storage.open(key)
        storage.delete(key)  # a no-op in globex...
    with in_tenant(acme):
        assert storage.open(key) == PNG_BYTES  # ...that leaves acme's file alone


def test_equal_keys_in_two_tenants_are_different_files(app, acme, globex, in_tenant):
    key, _ = _save(in_tenant, acme, data=b"acme's file", content_type="text/plain")
    globex_path = Path(app.config["STORAGE_LOCAL_DIR"]) / f"t{globex.id}" / key
    globex_path.parent.mkdir(parents=True)
    globex_path.write_bytes(b"globex's file")
    with in_tenant(acme):
        assert storage.open(key) == b"acme's file"
    with in_tenant(globex):
        assert storage.open(key) == b"globex's file"


def test_signed_url_serves_the_file_on_the_tenants_host_with_safe_headers(acme, in_tenant, tenant_client):
    key, url = _save(in_tenant, acme)
    assert url.startswith("/files/")
    response = tenant_client("acme").get(url)
    assert response.status_code == 200
    assert response.data == PNG_BYTES
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("inline")
    assert "sandbox" in response.headers["Content-Security-Policy"]
    cache = response.cache_control
    assert cache.private and 3500 <= cache.max_age <= 4500  # an hour, rounded up by at most 15 min
    # A conditional request for an unchanged file is answered without the body.
    again = tenant_client("acme").get(url, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_risky_content_types_are_downloaded_never_rendered(acme, in_tenant, tenant_client):
    _, url = _save(in_tenant, acme, data=b"<script>alert(1)</script>", content_type="text/html")
    response = tenant_client("acme").get(url)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_acme_url_on_globex_host_is_not_found(acme, globex, in_tenant, tenant_client):
    _, url = _save(in_tenant, acme)
    _save(in_tenant, globex)  # globex has files too, with the same tenant-relative layout
    assert tenant_client("globex").get(url).status_code == 404
    assert tenant_client("platform.localhost").get(url).status_code == 404
    assert tenant_client("acme").get(url).status_code == 200


def test_expired_url_is_not_found(app, acme, in_tenant, tenant_client):
    key, _ = _save(in_tenant, acme)
    with app.app_context():
        expired = f"/files/{sign_file_token(acme.id, key, int(time.time()) - 1)}"
    assert tenant_client("acme").get(expired).status_code == 404
    # A URL for one second: valid when issued, refused one second later (the clock is passed in).
    with in_tenant(acme):
        issued = time.time()
        short = storage.url(key, expires_in=1).removeprefix("/files/")
        done = time.time()
        assert read_file_token(short, tenant_id=acme.id, now=issued) is not None
        assert read_file_token(short, tenant_id=acme.id, now=done + 1) is None


def test_an_expiry_is_rounded_up_to_a_quarter_of_the_lifetime_at_most_fifteen_minutes():
    assert url_expiry(1000.7, 3600) == 5400  # 4,600 rounded up to 900 s
    assert url_expiry(1000.7, 1) == 1001  # a one-second URL stays one second
    assert url_expiry(1000.7, 40) == 1040  # steps of 10 s
    for lifetime in (1, 5, 60, 3600, 24 * 3600, 7 * 24 * 3600):
        for now in (0.0, 899.9, 900.0, 1234.5, 1_780_000_000.25):
            lived = url_expiry(now, lifetime) - now
            assert lifetime - 1 < lived <= lifetime * 1.25 + 1, (now, lifetime, lived)
            assert url_expiry(now, lifetime) - int(now) <= lifetime + 900


def test_a_files_url_stays_the_same_within_a_step_and_is_signed_once(
    app, acme, globex, in_tenant, tenant_client, monkeypatch
):
    key, _ = _save(in_tenant, acme)
    start = int(time.time()) // 900 * 900 + 10  # 10 s into a 15-minute step of the real clock
    now = {"t": start}
    monkeypatch.setattr(LocalStorage, "clock", staticmethod(lambda: now["t"]))
    with in_tenant(acme):
        first = storage.url(key)
        hits = signing._signed.cache_info().hits
        now["t"] = start + 600
        assert storage.url(key) == first  # the browser's copy of the file is used again
        assert signing._signed.cache_info().hits == hits + 1  # not signed again
        now["t"] = start + 900
        later = storage.url(key)
        assert later != first
    assert tenant_client("acme").get(first).status_code == 200
    assert tenant_client("acme").get(later).status_code == 200
    with app.app_context():
        grant = read_file_token(first.removeprefix("/files/"), tenant_id=acme.id)
    assert grant is not None and grant.expires_at == start - 10 + 4500
    with in_tenant(globex):  # equal key and expiry in another tenant: another token
        now["t"] = start
        assert storage.url(key) != first
    assert tenant_client("globex").get(first).status_code == 404
    monkeypatch.setattr(app, "secret_key", "a-rotated-secret-key-of-this-test-0123456789")
    with in_tenant(acme):  # a new secret signs anew: no token of the old one is handed out
        assert storage.url(key) != first
    assert tenant_client("acme").get(first).status_code == 404


def test_forged_or_tampered_tokens_are_not_found(app, acme, globex, in_tenant, tenant_client):
    key, url = _save(in_tenant, acme)
    token = url.removeprefix("/files/")
    client = tenant_client("acme")
    assert (
        client.get("/files/" + token[:-2] + ("AA" if not token.endswith("AA") else "BB")).status_code == 404
    )
    assert client.get("/files/not-a-token").status_code == 404
    # Signed with another secret.
    from itsdangerous import URLSafeSerializer

    forged = URLSafeSerializer("guessed-secret", salt="gigforge.storage.file-url.v1").dumps(
        [acme.id, key, int(time.time()) + 3600]
    )
    assert client.get(f"/files/{forged}").status_code == 404
    # A genuine token for globex naming acme's key: globex's host looks in globex's folder.
    with app.app_context():
        cross = sign_file_token(globex.id, key, int(time.time()) + 3600)
    assert tenant_client("globex").get(f"/files/{cross}").status_code == 404
    assert client.get(f"/files/{cross}").status_code == 404


def test_deleted_file_is_gone_and_its_url_stops_working(acme, in_tenant, tenant_client):
    key, url = _save(in_tenant, acme)
    with in_tenant(acme):
        storage.delete(key)
        storage.delete(key)  # deleting twice is fine
        assert not storage.exists(key)
    assert tenant_client("acme").get(url).status_code == 404


@pytest.mark.parametrize(
    "key",
    [
        "../t2/avatars/0123456789abcdef0123456789abcdef.png",
        "avatars/../../t2/avatars/0123456789abcdef0123456789abcdef.png",
        "/etc/passwd",
        "avatars/0123456789abcdef0123456789abcdef.png/..",
        "avatars\\..\\0123456789abcdef0123456789abcdef.png",
        "",
        "AVATARS/0123456789abcdef0123456789abcdef.png",
    ],
)
def test_path_traversal_keys_are_refused(acme, in_tenant, key):
    with in_tenant(acme):
        for call in (storage.open, storage.delete, storage.exists, storage.url):
            with pytest.raises(InvalidKey):
                call(key)


@pytest.mark.parametrize(
    ("namespace", "content_type"),
    [
        ("../avatars", "image/png"),
        ("avatars/..", "image/png"),
        ("/avatars", "image/png"),
        ("Avatars", "image/png"),
        ("", "image/png"),
        ("avatars", "not a type"),
        ("avatars", ""),
    ],
)
def test_save_refuses_bad_namespaces_and_content_types_and_writes_nothing(
    app, acme, in_tenant, namespace, content_type
):
    with in_tenant(acme), pytest.raises(InvalidKey):
        storage.save(b"x", namespace=namespace, filename="x.png", content_type=content_type)
    assert not (Path(app.config["STORAGE_LOCAL_DIR"]) / f"t{acme.id}").exists()


def test_extension_comes_from_the_content_type_not_the_filename(acme, in_tenant):
    with in_tenant(acme):
        key = storage.save(b"x", namespace="docs", filename="evil.html", content_type="image/webp")
        assert key.endswith(".webp")
        odd = storage.save(
            b"x", namespace="docs", filename="../../x.exe", content_type="application/octet-stream"
        )
        assert odd.startswith("docs/") and odd.endswith(".bin")
        assert storage.open(odd) == b"x"


def test_dropping_a_tenant_removes_its_files(app, in_tenant):
    with app.app_context():
        provisioning.create_tenant("initech", "Initech", base_domain=app.config["BASE_DOMAIN"], options={})
        initech = get_tenant_by_slug("initech")
    _save(in_tenant, initech)
    folder = Path(app.config["STORAGE_LOCAL_DIR"]) / f"t{initech.id}"
    assert folder.is_dir()
    with app.app_context():
        provisioning.drop_tenant("initech")
    assert not folder.exists()


def test_an_unknown_storage_backend_is_refused_with_a_clear_error(app, monkeypatch):
    from app.storage import get_storage
    from app.storage.backends import backend_class

    monkeypatch.setitem(app.config, "STORAGE_BACKEND", "s3")
    with app.app_context(), pytest.raises(RuntimeError, match="unknown STORAGE_BACKEND 's3'"):
        get_storage()
    # create_app runs the same check when it registers the storage blueprint.
    with pytest.raises(RuntimeError, match="S3 is planned"):
        backend_class("s3")
