"""A new tenant's first admin is invited by email instead of getting a generated password."""

import sqlalchemy as sa

from app.accounts.events import invite_new_admins
from app.accounts.models import User
from app.events.models import OutboxEvent
from app.events.tasks import deliver_event, relay_outbox
from app.extensions import connect_redis
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
    # The invitation is the tenant's `tenant.created` event: delivered again, nobody is invited twice.
    with in_tenant(result.tenant):
        event = db.session.scalars(sa.select(OutboxEvent).where(OutboxEvent.name == "tenant.created")).one()
        assert (event.status, event.payload) == ("dispatched", {"slug": "initech"})
        event_id = event.id
        db.session.rollback()
    with app.app_context():
        assert deliver_event(result.tenant.id, event_id) == "already dispatched"
    with in_tenant(result.tenant):
        invite_new_admins(event)  # the handler itself, run again: the admin already has the email
        db.session.commit()
    run_jobs()
    assert len(mailbox.messages) == 1


def test_an_invitation_is_not_lost_when_the_queue_is_out_of_reach(
    app, in_tenant, mailbox, run_jobs, monkeypatch
):
    """The tenant and its invitation commit together; with Redis down the creation still
    succeeds (a note, no traceback) and the worker's relay sends the invitation later."""
    with monkeypatch.context() as patch, app.app_context():
        patch.setitem(app.extensions, "redis", connect_redis("redis://127.0.0.1:1/0"))  # nothing listens
        result = provisioning.create_tenant(
            "vandelay", "Vandelay Gigs", base_domain="localhost", options={"admin_email": "art@vandelay.test"}
        )
    assert result.notes == [
        "admin: art@vandelay.test (invited: a set-password link is emailed)",
        "invitation: the queue is out of reach; the worker's relay sends it once it is back",
    ]
    with in_tenant(result.tenant):
        pending = db.session.execute(
            sa.select(OutboxEvent.name, OutboxEvent.status).where(OutboxEvent.name == "tenant.created")
        ).all()
        assert pending == [("tenant.created", "pending")]
        # Claimed for one relay grace before the enqueue failed: due again once it has passed.
        db.session.execute(sa.update(OutboxEvent).values(next_attempt_at=sa.func.now()))
        db.session.commit()
    with app.app_context():  # Redis is back
        assert relay_outbox() >= 1
    run_jobs()
    message = mailbox.wait_for(1)[0]
    assert message["To"] == "art@vandelay.test"


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
