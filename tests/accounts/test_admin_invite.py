"""A new tenant's first admin is invited by email instead of getting a generated password."""

import sqlalchemy as sa

from app.accounts.models import User
from tenants import provisioning
from tenants.db import db


def test_created_tenant_emails_its_admin_a_set_password_link(
    app, in_tenant, mailbox, run_jobs, tenant_client
):
    with app.app_context():
        result = provisioning.create_tenant(
            "initech", "Initech Gigs", base_domain="localhost", options={"admin_email": "boss@initech.test"}
        )
    assert result.notes == ["admin: boss@initech.test (invited: a set-password link is emailed)"]
    with in_tenant(result.tenant):
        admin = db.session.scalars(sa.select(User).where(User.email == "boss@initech.test")).one()
        assert admin.role == "admin" and admin.password_hash is None
    run_jobs()
    message = mailbox.wait_for(1)[0]
    assert message["To"] == "boss@initech.test"
    assert "Initech Gigs" in message["Subject"]
    link = next(url for url in mailbox.links(message) if "/password/reset/" in url)
    assert link.startswith("http://initech.localhost")

    client = tenant_client("initech")
    path = link.split("initech.localhost", 1)[1]
    page = client.get(path)
    assert page.status_code == 200
    from app.accounts.tasks import invite_tenant_admins

    with app.app_context():
        assert invite_tenant_admins(result.tenant.id) == 0  # the job may run twice: no second invite
    run_jobs()
    assert len(mailbox.messages) == 1


def test_tenant_with_an_admin_password_sends_no_invite(app, mailbox, run_jobs):
    with app.app_context():
        result = provisioning.create_tenant(
            "hooli",
            "Hooli Jobs",
            base_domain="localhost",
            options={"admin_email": "gavin@hooli.test", "admin_password": "a-strong-pass-2026"},
        )
    assert result.notes == ["admin: gavin@hooli.test"]
    run_jobs()
    assert mailbox.messages == []
