"""Files: upload with checksum, forbidden types, the list of everything shared (workroom,
conversation attachments, milestone submissions) by milestone, download, delete, cross-tenant."""

from __future__ import annotations

import hashlib
import io

import pytest

from app.contracts.services import ContractNotFound
from app.messaging import services as messaging
from app.orders import milestones as engine
from app.orders.services import DeliveryFile
from app.storage.uploads import Upload
from app.workroom import files
from app.workroom.services import WorkroomError
from tenants.db import db
from tests.helpers import bearer_headers
from tests.workroom.conftest import user

PDF = b"%PDF-1.7\n% the brief\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_upload_list_download_and_delete(acme, room, in_tenant, tenant_client):
    r = room(acme)
    with in_tenant(acme):
        cleo, ann = user(r.client), user(r.ann)
        row = files.upload_file(
            cleo, r.contract_id, Upload("brief.pdf", "application/pdf", PDF), milestone_id=r.milestone_ids[0]
        )
        assert row.sha256 == hashlib.sha256(PDF).hexdigest() and row.size == len(PDF)
        # A message attachment in the contract's conversation, and a submitted milestone file.
        conversation = messaging.order_conversation_of(ann, r.order_id)
        attachment = messaging.upload_attachment(ann, PNG, "screen.png", "image/png")
        messaging.post_message(ann, conversation.id, "Here is the screen", [attachment.id])
        engine.submit_milestone(
            ann,
            r.order_id,
            r.milestone_ids[0],
            "Design done",
            files=[DeliveryFile("design.pdf", "application/pdf", PDF)],
            dod_done=[1],
        )
        db.session.commit()
        contract = files.services.open_workroom(ann, r.contract_id)
        shared = files.shared_files(contract)
        assert {(f.source, f.filename) for f in shared} == {
            ("workroom", "brief.pdf"),
            ("message", "screen.png"),
            ("submission", "design.pdf"),
        }
        groups = files.files_by_milestone(contract)
        assert [m.id if m else None for m, _ in groups] == [r.milestone_ids[0], None]
        assert {f.filename for f in groups[0][1]} == {"brief.pdf", "design.pdf"}
        url = next(f.url for f in shared if f.source == "workroom")
        with pytest.raises(WorkroomError) as err:
            files.delete_file(ann, r.contract_id, row.id)  # not the uploader
        assert err.value.status == 403
    response = tenant_client("acme").get(url)
    assert response.status_code == 200 and response.data == PDF
    assert tenant_client("globex").get(url).status_code == 404  # bound to its tenant
    with in_tenant(acme):
        files.delete_file(user(r.client), r.contract_id, row.id)
        db.session.commit()
        assert [f.source for f in files.list_files(user(r.client), r.contract_id)].count("workroom") == 0


@pytest.mark.parametrize(
    ("name", "ctype", "data", "code"),
    [
        ("evil.html", "text/html", b"<script>alert(1)</script>", "forbidden_type"),
        ("fake.pdf", "application/pdf", b"MZ\x90\x00 not a pdf", "forbidden_type"),
        ("empty.txt", "text/plain", b"", "empty_file"),
    ],
)
def test_forbidden_or_broken_files_are_refused(acme, room, in_tenant, name, ctype, data, code):
    r = room(acme)
    with in_tenant(acme):
        with pytest.raises(WorkroomError) as err:
            files.upload_file(user(r.client), r.contract_id, Upload(name, ctype, data))
        assert err.value.code == code and "file" in err.value.errors


def test_too_large_and_wrong_milestone(acme, room, in_tenant, app, monkeypatch):
    r = room(acme)
    monkeypatch.setitem(app.config, "WORKROOM_FILE_MAX_BYTES", 10)
    with in_tenant(acme):
        with pytest.raises(WorkroomError) as err:
            files.upload_file(user(r.client), r.contract_id, Upload("big.txt", "text/plain", b"x" * 11))
        assert err.value.code == "too_large"
        with pytest.raises(WorkroomError) as err:
            files.upload_file(
                user(r.client), r.contract_id, Upload("a.txt", "text/plain", b"x"), milestone_id=999999
            )
        assert "milestone_id" in err.value.errors


def test_files_of_another_tenant_stay_apart(acme, globex, room, in_tenant, tenant_client):
    a, g = room(acme), room(globex)
    with in_tenant(acme):
        row_id = files.upload_file(
            user(a.client), a.contract_id, Upload("acme.pdf", "application/pdf", PDF)
        ).id
        db.session.commit()
    with in_tenant(globex):
        assert files.list_files(user(g.client), g.contract_id) == []
        with pytest.raises(files.FileNotFound):
            files.delete_file(user(g.client), g.contract_id, row_id)
        with pytest.raises(ContractNotFound):
            files.list_files(user(g.bob), g.contract_id)
    headers = bearer_headers(tenant_client("globex"), g.emails["client"])
    assert (
        tenant_client("globex")
        .delete(f"/api/v1/contracts/{g.contract_id}/files/{row_id}", headers=headers)
        .status_code
        == 404
    )


def test_upload_through_the_api_and_the_web_form(acme, room, tenant_client):
    r = room(acme)
    client = tenant_client("acme")
    headers = bearer_headers(client, r.emails["ann"])
    response = client.post(
        f"/api/v1/contracts/{r.contract_id}/files",
        headers=headers,
        data={
            "file": (io.BytesIO(PDF), "notes.pdf", "application/pdf"),
            "milestone_id": str(r.milestone_ids[1]),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    assert (
        response.json["sha256"] == hashlib.sha256(PDF).hexdigest()
        and response.json["milestone_id"] == r.milestone_ids[1]
    )
    bad = client.post(
        f"/api/v1/contracts/{r.contract_id}/files",
        headers=headers,
        data={"file": (io.BytesIO(b"<html>"), "x.html", "text/html")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and bad.json["errors"]["code"] == "forbidden_type"
    listed = client.get(f"/api/v1/contracts/{r.contract_id}/files", headers=headers).json
    assert [f["filename"] for f in listed] == ["notes.pdf"]
