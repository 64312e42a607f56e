"""Account events reach the owner's notification centre (and nobody else's)."""

import sqlalchemy as sa

from app.accounts import services as accounts
from app.accounts.models import User
from app.notifications.models import Notification
from tenants.db import db


def _kinds(in_tenant, tenant, user_id):
    with in_tenant(tenant):
        return db.session.scalars(
            sa.select(Notification.kind).where(Notification.user_id == user_id).order_by(Notification.id)
        ).all()


def test_password_change_shows_in_the_bell_of_that_user_only(acme, globex, in_tenant, make_user, run_jobs):
    acme_user = make_user(acme, email="ada@example.com", password="correct-horse-battery")
    globex_user = make_user(globex, email="ada@example.com", password="correct-horse-battery")
    assert acme_user == globex_user  # equal ids in both tenants
    with in_tenant(acme):
        accounts.change_password(
            db.session.get(User, acme_user), "correct-horse-battery", "new-horse-battery-9"
        )
        db.session.commit()
    run_jobs()
    run_jobs()  # a second delivery pass changes nothing
    assert _kinds(in_tenant, acme, acme_user) == ["password_changed"]
    assert _kinds(in_tenant, globex, globex_user) == []


def test_confirmed_email_change_is_notified_with_the_new_address(acme, in_tenant, make_user, run_jobs):
    user_id = make_user(acme, email="old@example.com", password="correct-horse-battery")
    with in_tenant(acme):
        user = db.session.get(User, user_id)
        token = accounts.make_token(
            "email-change",
            {"u": user.id, "e": "new@example.com", "o": accounts._fingerprint("old@example.com", "email")},
        )
        accounts.confirm_email_change(token)
        db.session.commit()
    run_jobs()
    assert _kinds(in_tenant, acme, user_id) == ["email_changed"]
    with in_tenant(acme):
        text = db.session.scalars(sa.select(Notification.data).where(Notification.user_id == user_id)).one()
    assert "new@example.com" in str(text)
