"""The antivirus on uploads, against a real clamd whose database holds the EICAR signature only.

``clamd`` (session fixture) starts ``/usr/sbin/clamd --foreground`` with a unix socket in a tmp
folder and a database of one ``.hdb`` line (the MD5 of the 68-byte EICAR test string), and
waits until it answers PING. Without clamd on this machine the tests are skipped with a
message saying so, except under CI (``CI`` set), where a missing clamd fails them
(scripts/ensure_packages.sh installs clamav-daemon). The fixtures live in tests/clamd.py.
"""

from __future__ import annotations

import hashlib
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.console.models import AuditEntry
from app.notifications.models import Notification
from app.storage import StorageNotFound, get_storage, storage
from app.storage.models import StoredFile
from app.storage.scanning import UNSCANNABLE, ClamdScanner, ScannerUnavailable
from app.storage.tasks import rescan_pending, scan_file, sweep
from config import ProductionConfig
from tenants.db import db
from tests.clamd import EICAR
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import csrf_token, login, post_form

CLEAN = b"Meeting notes: nothing to see here.\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _upload(tenant_client, access_token, tenant, user_id, data, name="notes.txt", ctype="text/plain"):
    client = tenant_client(tenant.slug)
    response = client.post(
        "/api/v1/attachments",
        data={"file": (io.BytesIO(data), name, ctype)},
        headers={"Authorization": f"Bearer {access_token(tenant, user_id)}"},
        content_type="multipart/form-data",
    )
    return client, response


def _row(in_tenant, tenant, key=None) -> StoredFile | None:
    with in_tenant(tenant):
        query = sa.select(StoredFile)
        if key is not None:
            query = query.where(StoredFile.key == key)
        row = db.session.scalars(query.order_by(StoredFile.id.desc())).first()
        if row is not None:
            db.session.expunge(row)
        return row


def test_clamd_finds_eicar_and_passes_clean_bytes(scanning):
    scanner = ClamdScanner(socket_path=scanning, timeout=5)
    found = scanner.scan(EICAR)
    assert not found.clean and found.signature.startswith("Eicar-Test-Signature")
    assert scanner.scan(CLEAN).clean
    # Several chunks (64 KiB each) end with the zero-length terminator: still one verdict.
    assert scanner.scan(b"a" * 200_000).clean


def test_files_over_the_stream_limit_are_unscannable_never_clean(scanning):
    # Over our own limit: never sent.
    assert ClamdScanner(socket_path=scanning, max_bytes=10).scan(CLEAN).signature == UNSCANNABLE
    # Within ours, over clamd's StreamMaxLength (1M here): clamd refuses, still not clean.
    result = ClamdScanner(socket_path=scanning, timeout=10).scan(b"b" * (1024 * 1024 + 10))
    assert not result.clean and result.signature == UNSCANNABLE


def test_a_scanner_that_cannot_answer_raises_unavailable(tmp_path):
    with pytest.raises(ScannerUnavailable):
        ClamdScanner(socket_path=str(tmp_path / "nothing.sock")).scan(CLEAN)
    with pytest.raises(ScannerUnavailable):
        ClamdScanner(socket_path="x").parse_reply("Can't allocate memory ERROR")


def test_eicar_upload_is_pending_then_quarantined_the_uploader_told_and_the_console_lists_it(
    app, acme, scanning, make_user, access_token, tenant_client, in_tenant, run_jobs
):
    uploader = make_user(acme, display_name="Ada Uploader")
    client, response = _upload(tenant_client, access_token, acme, uploader, EICAR, name="invoice.txt")
    assert response.status_code == 201, response.json
    url = response.json["url"]
    row = _row(in_tenant, acme)
    assert (row.status, row.scanner, row.uploaded_by_id, row.size) == ("pending", "clamd", uploader, 68)
    assert row.sha256 == hashlib.sha256(EICAR).hexdigest() and row.filename == "invoice.txt"

    # Pending: "being checked", to a browser and to a JSON client alike; never cached.
    pending = client.get(url)
    assert pending.status_code == 503 and pending.headers["Retry-After"] == "5"
    assert "being checked for viruses" in pending.get_data(as_text=True)
    assert "no-store" in pending.headers["Cache-Control"]
    as_json = client.get(url, headers={"Accept": "application/json"})
    assert as_json.status_code == 503 and as_json.json["reason"] == "scan_pending"

    run_jobs()  # the scan, then file.quarantined's handlers

    row = _row(in_tenant, acme)
    assert row.status == "quarantined" and row.signature.startswith("Eicar-Test-Signature")
    assert row.attempts == 1 and row.scanned_at is not None
    blocked = client.get(url)
    assert blocked.status_code == 410 and "blocked by the virus scanner" in blocked.get_data(as_text=True)
    # The bytes left the tenant's files: no key reaches them any more.
    assert not (Path(app.config["STORAGE_LOCAL_DIR"]) / f"t{acme.id}" / row.key).exists()
    quarantined = Path(app.config["STORAGE_LOCAL_DIR"]) / "quarantine" / f"t{acme.id}" / row.key
    assert quarantined.read_bytes() == EICAR
    with in_tenant(acme):
        with pytest.raises(StorageNotFound):
            storage.open(row.key)
        [note] = db.session.scalars(sa.select(Notification).where(Notification.user_id == uploader)).all()
        assert note.kind == "file_quarantined"
        assert (
            "A file you uploaded (“invoice.txt”) was blocked: it contained Eicar-Test-Signature"
            in (note.data["text"])
        )

    admin = login(tenant_client("acme"), "admin@acme.test", ADMIN_PASSWORD)
    page = admin.get("/console/quarantine")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f'data-testid="quarantined-{row.id}"' in text
    assert "invoice.txt" in text and "Eicar-Test-Signature" in text and "Ada Uploader" in text
    assert "attachments" in text and "Delete permanently" in text

    deleted = post_form(admin, "/console/quarantine", {}, action=f"/console/quarantine/{row.id}/delete")
    assert deleted.status_code == 303
    assert _row(in_tenant, acme) is None
    assert not quarantined.exists()
    with in_tenant(acme):
        entry = db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "file.delete")).one()
        assert entry.target_id == str(row.id) and entry.changes["signature"] == row.signature
    assert client.get(url).status_code == 404
    assert 'data-testid="no-quarantined"' in admin.get("/console/quarantine").get_data(as_text=True)


def test_moderators_see_the_quarantine_but_only_admins_delete(
    acme, scanning, make_user, access_token, tenant_client, in_tenant, run_jobs
):
    uploader = make_user(acme, email="member@acme.test")
    _upload(tenant_client, access_token, acme, uploader, EICAR)
    run_jobs()
    row = _row(in_tenant, acme)
    make_user(acme, email="mod@acme.test", role="moderator")
    moderator = login(tenant_client("acme"), "mod@acme.test", "correct-horse-battery")
    page = moderator.get("/console/quarantine").get_data(as_text=True)
    assert f'data-testid="quarantined-{row.id}"' in page and "Delete permanently" not in page
    refused = post_form(moderator, "/console/quarantine", {}, action=f"/console/quarantine/{row.id}/delete")
    assert refused.status_code == 403
    assert _row(in_tenant, acme).status == "quarantined"
    member = login(tenant_client("acme"), "member@acme.test", "correct-horse-battery")
    assert member.get("/console/quarantine").status_code == 403


def test_a_clean_upload_is_served_once_scanned(
    acme, scanning, make_user, access_token, tenant_client, in_tenant, run_jobs
):
    uploader = make_user(acme)
    client, response = _upload(tenant_client, access_token, acme, uploader, CLEAN)
    url = response.json["url"]
    assert client.get(url).status_code == 503
    run_jobs()
    row = _row(in_tenant, acme)
    assert (row.status, row.scanner, row.signature) == ("clean", "clamd", None)
    served = client.get(url)
    assert served.status_code == 200 and served.data == CLEAN
    with in_tenant(acme):
        assert not db.session.scalars(sa.select(Notification)).all()


def test_scanner_down_keeps_the_file_pending_counts_attempts_and_scans_it_when_back(
    app, acme, scanning, make_user, access_token, tenant_client, in_tenant, run_jobs, monkeypatch, tmp_path
):
    uploader = make_user(acme)
    monkeypatch.setitem(app.config, "CLAMD_SOCKET", str(tmp_path / "clamd-is-down.sock"))
    client, response = _upload(tenant_client, access_token, acme, uploader, CLEAN)
    url = response.json["url"]
    run_jobs()  # the job and its RQ retries (intervals 0 in tests) all find clamd down
    row = _row(in_tenant, acme)
    retries = len(app.config["UPLOAD_SCAN_RETRY_INTERVALS"])
    assert row.status == "pending" and row.attempts == 1 + retries and row.scanned_at is None
    assert client.get(url).status_code == 503

    # The sweep finds files pending too long (and only those).
    with app.app_context():
        assert sweep(now=datetime.now(UTC)) == 0
        assert sweep(now=datetime.now(UTC) + timedelta(hours=1)) == 1

    monkeypatch.setitem(app.config, "CLAMD_SOCKET", scanning)  # clamd is back
    with app.app_context():
        assert rescan_pending(acme.id, now=datetime.now(UTC) + timedelta(hours=1)) == 1
    run_jobs()
    row = _row(in_tenant, acme)
    assert row.status == "clean" and row.attempts == 2 + retries
    assert client.get(url).data == CLEAN


def test_a_stored_key_without_a_row_is_not_served_until_registered(
    app, acme, scanning, in_tenant, tenant_client, run_jobs
):
    with in_tenant(acme):  # stored before the antivirus existed: bytes, no row
        key = get_storage().save(
            CLEAN, namespace="attachments", filename="old.txt", content_type="text/plain"
        )
        url = storage.url(key)
    client = tenant_client("acme")
    assert client.get(url).status_code == 404  # fail closed

    result = app.test_cli_runner().invoke(args=["storage", "register-existing", "--tenant", "acme"])
    assert result.exit_code == 0, result.output
    assert "acme: 1 file(s) registered" in result.output
    row = _row(in_tenant, acme, key)
    assert row.status == "pending" and row.uploaded_by_id is None and row.namespace == "attachments"
    assert client.get(url).status_code == 503
    run_jobs()
    assert client.get(url).data == CLEAN
    again = app.test_cli_runner().invoke(args=["storage", "register-existing", "--tenant", "acme"])
    assert "acme: 0 file(s) registered" in again.output


def test_register_existing_with_no_scanner_marks_files_clean(app, acme, in_tenant, tenant_client):
    with in_tenant(acme):
        key = get_storage().save(CLEAN, namespace="deliveries", filename="x.txt", content_type="text/plain")
        url = storage.url(key)
    result = app.test_cli_runner().invoke(args=["storage", "register-existing"])
    assert result.exit_code == 0, result.output
    row = _row(in_tenant, acme, key)
    assert (row.status, row.scanner) == ("clean", "none")
    assert tenant_client("acme").get(url).data == CLEAN


def test_uploads_are_clean_at_once_without_a_scanner(acme, make_user, access_token, tenant_client, in_tenant):
    uploader = make_user(acme)
    client, response = _upload(tenant_client, access_token, acme, uploader, EICAR)
    row = _row(in_tenant, acme)
    assert (row.status, row.scanner, row.uploaded_by_id) == ("clean", "none", uploader)
    assert client.get(response.json["url"]).status_code == 200


def test_quarantine_and_scans_stay_in_their_tenant(
    app,
    acme,
    globex,
    scanning,
    make_user,
    access_token,
    tenant_client,
    in_tenant,
    run_jobs,
    monkeypatch,
    tmp_path,
):
    acme_user, globex_user = make_user(acme), make_user(globex)
    assert acme_user == globex_user
    _upload(tenant_client, access_token, acme, acme_user, EICAR, name="acme-virus.txt")
    # globex's file of the same id waits (its scan job is not run here).
    monkeypatch.setitem(app.config, "CLAMD_SOCKET", str(tmp_path / "down.sock"))
    _, globex_response = _upload(tenant_client, access_token, globex, globex_user, CLEAN, name="globex.txt")
    from app.extensions import redis_store

    with app.app_context():
        redis_store.client.flushdb()  # drop both queued scans: this test runs them by hand
    monkeypatch.setitem(app.config, "CLAMD_SOCKET", scanning)
    acme_row, globex_row = _row(in_tenant, acme), _row(in_tenant, globex)
    assert acme_row.id == globex_row.id

    with app.app_context():
        assert scan_file(acme.id, acme_row.id) == "quarantined"
    assert _row(in_tenant, acme).status == "quarantined"
    globex_after = _row(in_tenant, globex)
    assert (globex_after.status, globex_after.attempts) == ("pending", 0)  # never touched
    with in_tenant(globex):
        assert storage.open(globex_row.key) == CLEAN
    run_jobs()

    globex_admin = login(tenant_client("globex"), "admin@globex.test", ADMIN_PASSWORD)
    page = globex_admin.get("/console/quarantine").get_data(as_text=True)
    assert "acme-virus.txt" not in page and 'data-testid="no-quarantined"' in page
    refused = post_form(
        globex_admin, "/console/quarantine", {}, action=f"/console/quarantine/{acme_row.id}/delete"
    )
    assert refused.status_code in (302, 303, 404)
    assert _row(in_tenant, acme).status == "quarantined"
    assert _row(in_tenant, globex).status == "pending"
    # acme's signed URL means nothing on globex's host.
    with in_tenant(acme):
        acme_url = storage.url(acme_row.key)
    assert tenant_client("globex").get(acme_url).status_code == 404
    assert tenant_client("globex").get(globex_response.json["url"]).status_code == 503


def test_a_file_claiming_another_type_is_refused_before_it_is_stored(
    app, acme, scanning, make_user, access_token, tenant_client, in_tenant
):
    uploader = make_user(acme)
    _, response = _upload(
        tenant_client, access_token, acme, uploader, EICAR, name="photo.png", ctype="image/png"
    )
    assert response.status_code == 422, response.json
    assert _row(in_tenant, acme) is None
    assert not list((Path(app.config["STORAGE_LOCAL_DIR"]) / f"t{acme.id}").rglob("*.*"))


def test_production_without_a_scanner_warns_at_startup(monkeypatch):
    monkeypatch.setattr(ProductionConfig, "UPLOAD_SCANNER", "none")
    [warning] = ProductionConfig.startup_warnings()
    assert "UPLOAD_SCANNER=none" in warning and "clamd" in warning
    monkeypatch.setattr(ProductionConfig, "UPLOAD_SCANNER", "clamd")
    assert ProductionConfig.startup_warnings() == []


def test_the_brand_logo_is_not_served_while_pending(app, acme, scanning, tenant_client, in_tenant, run_jobs):
    from PIL import Image

    admin = login(tenant_client("acme"), "admin@acme.test", ADMIN_PASSWORD)
    buffer = io.BytesIO()
    Image.new("RGB", (1600, 400), "red").save(buffer, "PNG")
    saved = admin.post(
        "/console/branding/logo",
        data={
            "logo-csrf_token": csrf_token(admin, "/console/branding"),
            "logo-image": (io.BytesIO(buffer.getvalue()), "logo.png"),
        },
        content_type="multipart/form-data",
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)[:500]
    row = _row(in_tenant, acme)
    assert row is not None and row.namespace == "branding" and row.status == "pending"
    html = tenant_client("acme").get("/").get_data(as_text=True)
    url = re.search(r'<img src="(/brand/logo-[0-9a-f]{16}\.png)"', html).group(1)
    assert tenant_client("acme").get(url).status_code == 404
    run_jobs()
    assert _row(in_tenant, acme).status == "clean"
    assert tenant_client("acme").get(url).status_code == 200
