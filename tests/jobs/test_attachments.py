"""Files attached to jobs and proposals: what may be attached (types by content, sizes, counts),
who may add, remove and download them, tenants that never meet (equal ids, signed URLs bound to
their tenant), and the web forms."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.accounts.models import User
from app.core.request_limits import UPLOAD_LIMITS
from app.jobs import attachments, proposals, services
from app.jobs.models import MAX_JOB_ATTACHMENTS, MAX_PROPOSAL_ATTACHMENTS, Job, JobAttachment, Proposal
from app.storage.uploads import DOCX, XLSX, Upload
from tenants.db import db
from tests.helpers import bearer_headers, csrf_token, login
from tests.jobs.conftest import JOB, PROPOSAL

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
PDF = b"%PDF-1.7\n% a spec\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def ooxml(part: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(f"{part}document.xml", "<document/>")
    return out.getvalue()


def multipart(*files, field="files") -> dict:
    """``files``: (name, content type, bytes) tuples, as a test client's multipart data."""
    return {field: [(io.BytesIO(data), name, ctype) for name, ctype, data in files]}


def stored_files(app, tenant) -> set[Path]:
    """Every file of the tenant's job and proposal attachments on disk."""
    base = Path(app.config["STORAGE_LOCAL_DIR"]) / f"t{tenant.id}" / "jobs"
    return {p for p in base.rglob("*") if p.is_file()} if base.exists() else set()


def rows(**where) -> int:
    query = sa.select(sa.func.count()).select_from(JobAttachment)
    for column, value in where.items():
        query = query.where(getattr(JobAttachment, column) == value)
    return db.session.scalar(query)


def u(user_id):
    return db.session.get(User, user_id)


@pytest.fixture
def kit(acme, people, tenant_client):
    """acme's people with API headers, an open job of the client and Ann's proposal."""
    p = people(acme)
    c = tenant_client("acme")
    p.c = c
    p.h = {who: bearer_headers(c, email) for who, email in p.emails.items()}
    job = c.post("/api/v1/jobs", json={**JOB, "publish": True}, headers=p.h["client"])
    assert job.status_code == 201, job.json
    p.job_id = job.json["id"]
    proposal = c.post(f"/api/v1/jobs/{p.job_id}/proposals", json=PROPOSAL, headers=p.h["ann"])
    assert proposal.status_code == 201, proposal.json
    p.proposal_id = proposal.json["id"]
    return p


# --------------------------------------------------------------------------- what may be attached


def test_the_client_attaches_specs_mockups_and_datasets(kit, app, acme, in_tenant):
    files = [
        ("spec.pdf", "application/pdf", PDF),
        ("mockup.png", "image/png", PNG),
        ("rows.csv", "application/vnd.ms-excel", b"a,b\n1,2\n"),
        ("README.md", "application/octet-stream", b"# Notes\n"),
        ("brief.docx", DOCX, ooxml("word/")),
        ("budget.xlsx", "application/octet-stream", ooxml("xl/")),
    ]
    response = kit.c.post(
        f"/api/v1/jobs/{kit.job_id}/attachments",
        data=multipart(*files),
        headers=kit.h["client"],
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    assert [(a["filename"], a["content_type"], a["size"]) for a in response.json] == [
        ("spec.pdf", "application/pdf", len(PDF)),
        ("mockup.png", "image/png", len(PNG)),
        ("rows.csv", "text/csv", 8),
        ("README.md", "text/markdown", 8),
        ("brief.docx", DOCX, len(files[4][2])),
        ("budget.xlsx", XLSX, len(files[5][2])),
    ]
    job = kit.c.get(f"/api/v1/jobs/{kit.job_id}", headers=kit.h["bob"]).json
    assert [a["filename"] for a in job["attachments"]] == [f[0] for f in files]
    pdf = kit.c.get(job["attachments"][0]["url"])
    assert pdf.status_code == 200 and pdf.data == PDF and pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"] == "inline; filename=spec.pdf"
    sheet = kit.c.get(job["attachments"][5]["url"])
    assert sheet.headers["Content-Disposition"].startswith("attachment;")  # never rendered inline
    assert len(stored_files(app, acme)) == 6


@pytest.mark.parametrize(
    ("name", "ctype", "data", "code"),
    [
        ("page.html", "text/html", b"<script>alert(1)</script>", "forbidden_type"),
        ("logo.svg", "image/svg+xml", b"<svg onload=alert(1)>", "forbidden_type"),
        ("setup.exe", "application/octet-stream", b"MZ\x90\x00", "forbidden_type"),
        ("fake.png", "image/png", b"not a png at all", "forbidden_type"),
        ("fake.docx", DOCX, b"PK\x03\x04 not an archive", "forbidden_type"),
        ("binary.txt", "text/plain", b"\x00\x01\x02", "forbidden_type"),
        ("empty.pdf", "application/pdf", b"", "empty_file"),
        ("big.pdf", "application/pdf", PDF + b"x" * 200, "too_large"),
    ],
)
def test_forbidden_disguised_empty_or_too_large_files_are_refused_and_nothing_is_stored(
    kit, app, acme, in_tenant, monkeypatch, name, ctype, data, code
):
    monkeypatch.setitem(app.config, "JOB_ATTACHMENT_MAX_BYTES", 100)
    before = stored_files(app, acme)
    for url, who in (
        (f"/api/v1/jobs/{kit.job_id}/attachments", "client"),
        (f"/api/v1/proposals/{kit.proposal_id}/attachments", "ann"),
    ):
        # A good file beside the bad one: the request is refused whole.
        response = kit.c.post(
            url,
            data=multipart(("ok.pdf", "application/pdf", PDF), (name, ctype, data)),
            headers=kit.h[who],
            content_type="multipart/form-data",
        )
        assert response.status_code == 422, response.json
        assert response.json["errors"]["code"] == code
        assert name in response.json["message"]
        assert response.json["errors"]["files"]["files"] == [response.json["message"]]
    with in_tenant(acme):
        assert rows() == 0
    assert stored_files(app, acme) == before


def test_too_many_files_are_refused_counting_those_attached(kit, app, acme, in_tenant):
    url = f"/api/v1/jobs/{kit.job_id}/attachments"
    nine = [(f"f{i}.pdf", "application/pdf", PDF) for i in range(MAX_JOB_ATTACHMENTS - 1)]
    ok = kit.c.post(url, data=multipart(*nine), headers=kit.h["client"], content_type="multipart/form-data")
    assert ok.status_code == 201
    before = stored_files(app, acme)
    two = kit.c.post(
        url, data=multipart(*nine[:2]), headers=kit.h["client"], content_type="multipart/form-data"
    )
    assert two.status_code == 422 and two.json["errors"]["code"] == "too_many_files"
    assert "add at most 1 more" in two.json["message"]
    last = kit.c.post(
        url, data=multipart(nine[0]), headers=kit.h["client"], content_type="multipart/form-data"
    )
    assert last.status_code == 201
    full = kit.c.post(
        url, data=multipart(nine[0]), headers=kit.h["client"], content_type="multipart/form-data"
    )
    assert full.status_code == 422 and "remove one first" in full.json["message"]
    purl = f"/api/v1/proposals/{kit.proposal_id}/attachments"
    six = [(f"p{i}.pdf", "application/pdf", PDF) for i in range(MAX_PROPOSAL_ATTACHMENTS + 1)]
    refused = kit.c.post(purl, data=multipart(*six), headers=kit.h["ann"], content_type="multipart/form-data")
    assert refused.status_code == 422 and refused.json["errors"]["code"] == "too_many_files"
    with in_tenant(acme):
        assert rows(job_id=kit.job_id) == MAX_JOB_ATTACHMENTS and rows(proposal_id=kit.proposal_id) == 0
    assert len(stored_files(app, acme) - before) == 1


def test_an_upload_without_files_or_not_multipart_is_a_clear_422(kit):
    url = f"/api/v1/jobs/{kit.job_id}/attachments"
    empty = kit.c.post(url, data={}, headers=kit.h["client"], content_type="multipart/form-data")
    assert empty.status_code == 422 and empty.json["errors"]["code"] == "no_file"
    as_json = kit.c.post(url, json={"files": []}, headers=kit.h["client"])
    assert as_json.status_code == 422 and "multipart" in as_json.json["message"]
    single = kit.c.post(
        url,
        data=multipart(("one.pdf", "application/pdf", PDF), field="file"),
        headers=kit.h["client"],
        content_type="multipart/form-data",
    )
    assert single.status_code == 201 and single.json[0]["filename"] == "one.pdf"


def test_post_job_with_a_bad_file_and_bad_fields_reports_both_and_stores_nothing(
    acme, people, app, in_tenant
):
    p = people(acme)
    before = stored_files(app, acme)
    with in_tenant(acme):
        with pytest.raises(services.JobError) as exc:
            services.post_job(
                u(p.client),
                {**JOB, "title": "short"},
                now=NOW,
                files=[Upload("x.exe", "application/octet-stream", b"MZ")],
            )
        assert set(exc.value.errors) == {"title", "files"}
        with pytest.raises(attachments.AttachmentError):
            services.post_job(
                u(p.client), dict(JOB), now=NOW, files=[Upload("x.pdf", "application/pdf", b"nope")]
            )
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0
    assert stored_files(app, acme) == before


def test_the_body_limits_of_the_upload_routes_follow_the_counts():
    for endpoint in ("jobs.post_job", "jobs.add_job_attachments", "jobs_api.JobAttachments"):
        assert UPLOAD_LIMITS[endpoint] == ("JOB_ATTACHMENT_MAX_BYTES", MAX_JOB_ATTACHMENTS)
    for endpoint in ("jobs.submit_proposal", "jobs.add_proposal_attachments", "jobs_api.ProposalAttachments"):
        assert UPLOAD_LIMITS[endpoint] == ("JOB_ATTACHMENT_MAX_BYTES", MAX_PROPOSAL_ATTACHMENTS)


# --------------------------------------------------------------------------- who may do what


def _attach(kit, url, who, name="spec.pdf"):
    response = kit.c.post(
        url,
        data=multipart((name, "application/pdf", PDF)),
        headers=kit.h[who],
        content_type="multipart/form-data",
    )
    return response


def test_only_the_client_changes_a_jobs_files_and_only_while_draft_or_open(kit, app, acme, in_tenant):
    url = f"/api/v1/jobs/{kit.job_id}/attachments"
    for who in ("ann", "member"):
        assert _attach(kit, url, who).status_code == 403
    added = _attach(kit, url, "client").json[0]
    delete_url = f"{url}/{added['id']}"
    assert kit.c.delete(delete_url, headers=kit.h["ann"]).status_code == 403
    assert kit.c.delete(f"{url}/999", headers=kit.h["client"]).status_code == 404
    # Another job's attachment id is unknown on this job.
    other = kit.c.post("/api/v1/jobs", json=JOB, headers=kit.h["client"]).json["id"]
    assert (
        kit.c.delete(f"/api/v1/jobs/{other}/attachments/{added['id']}", headers=kit.h["client"]).status_code
        == 404
    )
    kit.c.post(f"/api/v1/jobs/{kit.job_id}/close", headers=kit.h["client"])
    closed = _attach(kit, url, "client")
    assert closed.status_code == 409 and closed.json["errors"]["current_status"] == "cancelled"
    assert kit.c.delete(delete_url, headers=kit.h["client"]).status_code == 409
    with in_tenant(acme):
        assert rows(job_id=kit.job_id) == 1


def test_a_removed_file_is_gone_with_its_urls(kit, app, acme, in_tenant):
    url = f"/api/v1/jobs/{kit.job_id}/attachments"
    added = _attach(kit, url, "client").json[0]
    assert kit.c.get(added["url"]).status_code == 200
    assert kit.c.delete(f"{url}/{added['id']}", headers=kit.h["client"]).status_code == 204
    assert kit.c.get(added["url"]).status_code == 404
    assert kit.c.get(f"/api/v1/jobs/{kit.job_id}", headers=kit.h["client"]).json["attachments"] == []
    assert stored_files(app, acme) == set()


def test_job_files_are_seen_by_whoever_may_see_the_job(kit, acme, people, in_tenant):
    draft = kit.c.post("/api/v1/jobs", json=JOB, headers=kit.h["client"]).json["id"]
    _attach(kit, f"/api/v1/jobs/{draft}/attachments", "client")
    assert kit.c.get(f"/api/v1/jobs/{draft}/attachments", headers=kit.h["client"]).json[0]["url"]
    assert kit.c.get(f"/api/v1/jobs/{draft}/attachments", headers=kit.h["ann"]).status_code == 404
    private = kit.c.post(
        "/api/v1/jobs", json={**JOB, "visibility": "invite_only", "publish": True}, headers=kit.h["client"]
    ).json["id"]
    _attach(kit, f"/api/v1/jobs/{private}/attachments", "client")
    assert kit.c.get(f"/api/v1/jobs/{private}/attachments", headers=kit.h["bob"]).status_code == 404
    kit.c.post(f"/api/v1/jobs/{private}/invites", json={"freelancer_id": kit.bob}, headers=kit.h["client"])
    invited = kit.c.get(f"/api/v1/jobs/{private}/attachments", headers=kit.h["bob"])
    assert invited.status_code == 200 and invited.json[0]["filename"] == "spec.pdf"
    # The web page of a job nobody else may see lists nothing (it is a 404).
    assert b"spec.pdf" not in kit.c.get(f"/jobs/{draft}").data


def test_proposal_files_are_the_freelancers_and_the_clients_only(kit, acme, in_tenant):
    url = f"/api/v1/proposals/{kit.proposal_id}/attachments"
    assert _attach(kit, url, "client").status_code == 403  # the client sees it, but does not change it
    for who in ("bob", "member"):
        assert _attach(kit, url, who).status_code == 404
    added = _attach(kit, url, "ann", "portfolio.pdf").json[0]
    for who in ("ann", "client"):
        listed = kit.c.get(url, headers=kit.h[who])
        assert listed.status_code == 200 and listed.json[0]["filename"] == "portfolio.pdf"
        assert kit.c.get(listed.json[0]["url"]).data == PDF
    for who in ("bob", "member"):
        assert kit.c.get(url, headers=kit.h[who]).status_code == 404
    # Other people's views of the job never carry proposal files.
    assert "portfolio" not in kit.c.get(f"/api/v1/jobs/{kit.job_id}", headers=kit.h["bob"]).get_data(
        as_text=True
    )
    ranked = kit.c.get(f"/api/v1/jobs/{kit.job_id}/proposals", headers=kit.h["client"]).json
    assert ranked[0]["attachments"][0]["filename"] == "portfolio.pdf"
    assert kit.c.delete(f"{url}/{added['id']}", headers=kit.h["client"]).status_code == 403
    assert kit.c.delete(f"{url}/{added['id']}", headers=kit.h["bob"]).status_code == 404
    kit.c.post(
        f"/api/v1/proposals/{kit.proposal_id}/review", json={"status": "declined"}, headers=kit.h["client"]
    )
    late = _attach(kit, url, "ann")
    assert late.status_code == 409 and late.json["errors"]["current_status"] == "declined"
    assert kit.c.delete(f"{url}/{added['id']}", headers=kit.h["ann"]).status_code == 409
    with in_tenant(acme):
        assert rows(proposal_id=kit.proposal_id) == 1


def test_proposal_files_freeze_when_the_job_closes(kit):
    url = f"/api/v1/proposals/{kit.proposal_id}/attachments"
    kit.c.post(f"/api/v1/jobs/{kit.job_id}/close", headers=kit.h["client"])
    closed = _attach(kit, url, "ann")
    assert closed.status_code == 409 and closed.json["errors"]["current_status"] == "cancelled"


def test_signed_urls_expire(kit, monkeypatch):
    added = _attach(kit, f"/api/v1/jobs/{kit.job_id}/attachments", "client").json[0]
    import time

    from app.storage.signing import STABLE_URL_SECONDS

    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + attachments.URL_SECONDS - 1)
    assert kit.c.get(added["url"]).status_code == 200  # never less than asked for
    # ... nor more than one rounding step longer (the URL stays the same for a while).
    monkeypatch.setattr(time, "time", lambda: real() + attachments.URL_SECONDS + STABLE_URL_SECONDS + 1)
    assert kit.c.get(added["url"]).status_code == 404


# --------------------------------------------------------------------------- tenants never meet


def test_tenants_never_meet_with_equal_ids(acme, globex, people, tenant_client, app, in_tenant):
    seen = {}
    for tenant in (acme, globex):
        p = people(tenant)
        c = tenant_client(tenant.slug)
        h = {who: bearer_headers(c, email) for who, email in p.emails.items()}
        job = c.post("/api/v1/jobs", json={**JOB, "publish": True}, headers=h["client"]).json["id"]
        proposal = c.post(f"/api/v1/jobs/{job}/proposals", json=PROPOSAL, headers=h["ann"]).json["id"]
        body = f"{tenant.slug} secret spec".encode()
        files = multipart((f"{tenant.slug}.txt", "text/plain", body))
        ja = c.post(
            f"/api/v1/jobs/{job}/attachments",
            data=files,
            headers=h["client"],
            content_type="multipart/form-data",
        )
        files = multipart((f"{tenant.slug}-cv.txt", "text/plain", body))
        pa = c.post(
            f"/api/v1/proposals/{proposal}/attachments",
            data=files,
            headers=h["ann"],
            content_type="multipart/form-data",
        )
        seen[tenant.slug] = dict(
            c=c, h=h, job=job, proposal=proposal, ja=ja.json[0], pa=pa.json[0], body=body
        )
    acme_, globex_ = seen["acme"], seen["globex"]
    assert (acme_["job"], acme_["proposal"], acme_["ja"]["id"], acme_["pa"]["id"]) == (
        globex_["job"],
        globex_["proposal"],
        globex_["ja"]["id"],
        globex_["pa"]["id"],
    )
    a, g = acme_["c"], globex_["c"]
    # Each host serves its own tenant's file; the other tenant's signed URL is a 404 there.
    assert a.get(acme_["ja"]["url"]).data == b"acme secret spec"
    for key in ("ja", "pa"):
        assert g.get(acme_[key]["url"]).status_code == 404
        assert a.get(globex_[key]["url"]).status_code == 404
    # The same path with the other tenant's token: refused at the door (401), nothing removed.
    path = f"/api/v1/jobs/{acme_['job']}/attachments/{acme_['ja']['id']}"
    assert a.delete(path, headers=globex_["h"]["client"]).status_code == 401
    assert a.delete(path, headers=acme_["h"]["client"]).status_code == 204
    with in_tenant(globex):
        assert db.session.get(JobAttachment, globex_["ja"]["id"]).filename == "globex.txt"
    assert g.get(globex_["ja"]["url"]).data == b"globex secret spec"
    assert (
        g.get(f"/api/v1/jobs/{globex_['job']}", headers=globex_["h"]["bob"]).json["attachments"][0][
            "filename"
        ]
        == "globex.txt"
    )


# --------------------------------------------------------------------------- the web


def _web(tenant_client, email):
    web = tenant_client("acme")
    login(web, email)
    return web


def test_the_client_posts_a_job_with_files_on_the_web_and_manages_them(
    kit, app, acme, tenant_client, in_tenant
):
    web = _web(tenant_client, kit.emails["client"])
    page = web.get("/jobs/new").get_data(as_text=True)
    assert (
        'enctype="multipart/form-data"' in page
        and 'type="file"' in page
        and "Up to 10 files of at most 20 MB" in page
    )
    form = {
        "csrf_token": csrf_token(web, "/jobs/new"),
        "title": "Design a booking app for gyms",
        "description": "Screens for booking classes, paying and getting reminders; see the spec attached.",
        "budget_type": "fixed",
        "budget_min": "1000",
        "budget_max": "3000",
        "duration": "1_to_4_weeks",
        "experience_level": "intermediate",
        "action": "publish",
        "files": [
            (io.BytesIO(PDF), "spec.pdf", "application/pdf"),
            (io.BytesIO(PNG), "mockup.png", "image/png"),
        ],
    }
    posted = web.post("/jobs/new", data=form, content_type="multipart/form-data")
    assert posted.status_code == 302, posted.get_data(as_text=True)[:2000]
    job_id = int(posted.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    html = web.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "spec.pdf" in html and "mockup.png" in html and f"{len(PDF)} bytes" in html
    assert 'data-testid="job-files"' in html  # the client may add more
    link = re.search(r'href="(/files/[^"]+)"[^>]*>spec.pdf<', html).group(1)
    assert web.get(link).data == PDF
    # Anyone may see an open public job's files; only the client gets Remove buttons.
    visitor = tenant_client("acme").get(f"/jobs/{job_id}").get_data(as_text=True)
    assert (
        "spec.pdf" in visitor
        and "remove-attachment" not in visitor
        and 'data-testid="job-files"' not in visitor
    )
    with in_tenant(acme):
        attachment_id = db.session.scalar(
            sa.select(JobAttachment.id).where(
                JobAttachment.job_id == job_id, JobAttachment.filename == "spec.pdf"
            )
        )
    token = csrf_token(web, f"/jobs/{job_id}")
    removed = web.post(f"/jobs/{job_id}/attachments/{attachment_id}/remove", data={"csrf_token": token})
    assert removed.status_code == 302
    added = web.post(
        f"/jobs/{job_id}/attachments",
        data={"csrf_token": token, "files": [(io.BytesIO(b"a,b\n"), "data.csv", "text/csv")]},
        content_type="multipart/form-data",
    )
    assert added.status_code == 302
    refused = web.post(
        f"/jobs/{job_id}/attachments",
        data={"csrf_token": token, "files": [(io.BytesIO(b"MZ"), "tool.exe", "application/octet-stream")]},
        content_type="multipart/form-data",
        headers={"Referer": f"http://acme.localhost/jobs/{job_id}"},
        follow_redirects=True,
    )
    assert "tool.exe: this file type is not allowed" in refused.get_data(as_text=True)
    with in_tenant(acme):
        names = db.session.scalars(
            sa.select(JobAttachment.filename).where(JobAttachment.job_id == job_id).order_by(JobAttachment.id)
        ).all()
    assert names == ["mockup.png", "data.csv"]


def test_a_refused_file_on_the_job_form_shows_on_the_form_and_stores_nothing(
    kit, app, acme, tenant_client, in_tenant
):
    web = _web(tenant_client, kit.emails["client"])
    before = stored_files(app, acme)
    form = {
        "csrf_token": csrf_token(web, "/jobs/new"),
        "title": "short",
        "description": "Screens for booking classes, paying and getting reminders; see the spec attached.",
        "budget_type": "fixed",
        "budget_min": "1000",
        "budget_max": "3000",
        "duration": "1_to_4_weeks",
        "experience_level": "intermediate",
        "files": [
            (io.BytesIO(PDF), "ok.pdf", "application/pdf"),
            (io.BytesIO(b"<svg/>"), "x.svg", "image/svg+xml"),
        ],
    }
    response = web.post("/jobs/new", data=form, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "x.svg: this file type is not allowed" in html and "The title needs at least" in html
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 1  # the kit's job only
        assert rows() == 0
    assert stored_files(app, acme) == before


def test_a_freelancer_sends_a_proposal_with_files_on_the_web(kit, acme, tenant_client, in_tenant):
    web = _web(tenant_client, kit.emails["bob"])
    page = web.get(f"/jobs/{kit.job_id}").get_data(as_text=True)
    assert "Up to 5 files" in page
    form = {
        "csrf_token": csrf_token(web, f"/jobs/{kit.job_id}"),
        "cover_letter": PROPOSAL["cover_letter"],
        "price": "3000",
        "delivery_days": "30",
        "files": [(io.BytesIO(PDF), "portfolio.pdf", "application/pdf")],
    }
    sent = web.post(f"/jobs/{kit.job_id}/proposals", data=form, content_type="multipart/form-data")
    assert sent.status_code == 302, sent.get_data(as_text=True)[:2000]
    with in_tenant(acme):
        proposal = db.session.scalar(sa.select(Proposal).where(Proposal.freelancer_id == kit.bob))
        assert [a.filename for a in proposal.attachments] == ["portfolio.pdf"]
        attachment_id = proposal.attachments[0].id
    own = web.get(f"/jobs/{kit.job_id}").get_data(as_text=True)
    assert (
        "Your proposal's files" in own
        and "portfolio.pdf" in own
        and f"remove-attachment-{attachment_id}" in own
    )
    assert "portfolio.pdf" in web.get("/proposals").get_data(as_text=True)
    client_web = _web(tenant_client, kit.emails["client"])
    ranked = client_web.get(f"/jobs/{kit.job_id}/proposals").get_data(as_text=True)
    assert "portfolio.pdf" in ranked
    # Ann, another freelancer, never sees Bob's files.
    ann_web = _web(tenant_client, kit.emails["ann"])
    assert "portfolio.pdf" not in ann_web.get(f"/jobs/{kit.job_id}").get_data(as_text=True)
    token = csrf_token(web, f"/jobs/{kit.job_id}")
    web.post(f"/proposals/{proposal.id}/attachments/{attachment_id}/remove", data={"csrf_token": token})
    with in_tenant(acme):
        assert rows(proposal_id=proposal.id) == 0


def test_attachment_services_refuse_the_wrong_state_without_storing(kit, app, acme, in_tenant):
    with in_tenant(acme):
        proposal = proposals.withdraw_proposal(u(kit.ann), kit.proposal_id, now=NOW)
        before = stored_files(app, acme)
        with pytest.raises(proposals.ProposalStateError) as exc:
            proposals.add_proposal_attachments(
                u(kit.ann), proposal.id, [Upload("a.pdf", "application/pdf", PDF)], now=NOW
            )
        assert exc.value.extra["current_status"] == "withdrawn"
        assert stored_files(app, acme) == before
