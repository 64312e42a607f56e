"""Messaging test kit: a live Socket.IO server, python-socketio clients, users, logins, tokens."""

from __future__ import annotations

import pytest

from app.accounts.models import User
from app.messaging import services
from app.messaging.models import Message
from tenants.db import db
from tests.helpers import ChatClient, close_all, csrf_token, login


@pytest.fixture
def chat_client(socket_server):
    """``chat_client("acme", cookie=... | token=...)`` -> a connected ChatClient (closed after the test)."""
    clients: list[ChatClient] = []

    def factory(slug: str, *, cookie: str | None = None, token: str | None = None, connect: bool = True):
        client = ChatClient(socket_server, slug, cookie=cookie, token=token)
        clients.append(client)
        return client.connect() if connect else client

    yield factory
    close_all(clients)


@pytest.fixture
def session_cookie(tenant_client):
    """``session_cookie(tenant, email)`` -> the value of a logged-in web session cookie."""

    def sign_in(tenant, email: str) -> str:
        client = tenant_client(tenant.slug)
        login(client, email)
        cookie = client.get_cookie("session", domain=client.host)
        assert cookie is not None
        return cookie.value

    return sign_in


@pytest.fixture
def start_conversation(in_tenant):
    """``start_conversation(tenant, buyer_id, seller_id)`` -> conversation id."""

    def start(tenant, buyer_id: int, seller_id: int, gig_id=None) -> int:
        with in_tenant(tenant):
            conversation = services.start_direct_conversation(
                db.session.get(User, buyer_id), seller_id, gig_id=gig_id
            )
            db.session.commit()
            return conversation.id

    return start


@pytest.fixture
def message_count(in_tenant):
    def count(tenant) -> int:
        with in_tenant(tenant):
            return db.session.scalar(db.select(db.func.count(Message.id)))

    return count


@pytest.fixture
def user_of(in_tenant):
    """``with user_of(tenant, user_id) as user:`` -> the User, tenant bound, commit yourself."""
    import contextlib

    @contextlib.contextmanager
    def bind(tenant, user_id):
        with in_tenant(tenant):
            yield db.session.get(User, user_id)

    return bind


@pytest.fixture
def web():
    """The web helpers above, for test modules (test directories are not packages)."""
    from types import SimpleNamespace

    return SimpleNamespace(csrf_token=csrf_token, login=login)
