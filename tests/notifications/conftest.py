"""Notifications test kit: users in a conversation, logins, scheduled jobs, Socket.IO clients
(the live server, clients, sign-in helpers and ``access_token`` are the suite's own: tests/helpers.py,
tests/conftest.py)."""

from __future__ import annotations

import pytest
from rq import Queue

from app.accounts.models import User
from app.extensions import redis_store
from app.messaging import services as messaging
from app.notifications.models import Notification
from tenants.db import db
from tests.helpers import ChatClient, close_all, csrf_token, login


@pytest.fixture
def web():
    from types import SimpleNamespace

    return SimpleNamespace(csrf_token=csrf_token, login=login)


@pytest.fixture
def pair(acme, make_user, in_tenant):
    """acme: Bea (buyer) and Sam (seller) in one direct conversation -> (bea, sam, conversation_id)."""
    bea = make_user(acme, email="bea@example.com", display_name="Bea Buyer")
    sam = make_user(acme, email="sam@example.com", display_name="Sam Seller")
    with in_tenant(acme):
        conversation = messaging.start_direct_conversation(db.session.get(User, bea), sam)
        db.session.commit()
        return bea, sam, conversation.id


@pytest.fixture
def post(in_tenant):
    """``post(tenant, sender_id, conversation_id, body)`` -> message id (committed, as a request would)."""

    def send(tenant, sender_id: int, conversation_id: int, body: str) -> int:
        with in_tenant(tenant):
            message = messaging.post_message(db.session.get(User, sender_id), conversation_id, body)
            db.session.commit()
            return message.id

    return send


@pytest.fixture
def notifications_of(in_tenant):
    """``notifications_of(tenant, user_id)`` -> that user's Notification rows (detached), oldest first."""

    def fetch(tenant, user_id: int) -> list[Notification]:
        with in_tenant(tenant):
            rows = db.session.scalars(
                db.select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)
            ).all()
            for row in rows:
                db.session.expunge(row)
            return list(rows)

    return fetch


@pytest.fixture
def release_scheduled(app):
    """Move every job scheduled with ``enqueue_in`` onto its queue now, as if its time had come.

    ``run_jobs()`` runs a burst worker without RQ's scheduler; production workers
    run with it (``flask worker``). Returns how many jobs were released.
    """

    def release(queue_name: str = "default") -> int:
        with app.app_context():
            queue = Queue(queue_name, connection=redis_store.client)
            registry = queue.scheduled_job_registry
            released = 0
            for job_id in registry.get_job_ids():
                job = queue.fetch_job(job_id)
                registry.remove(job_id)
                if job is not None:
                    queue.enqueue_job(job)
                    released += 1
            return released

    return release


@pytest.fixture
def socket_client(socket_server):
    """``socket_client("acme", token=...)`` -> a connected ChatClient (closed after the test)."""
    clients: list[ChatClient] = []

    def factory(slug: str, *, token: str) -> ChatClient:
        client = ChatClient(socket_server, slug, token=token)
        clients.append(client)
        return client.connect()

    yield factory
    close_all(clients)
