"""Helpers for the accounts web tests: CSRF tokens from real pages, logging in."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from app.accounts.models import User
from tenants.db import db
from tests.helpers import csrf_token, post_form

STRONG_PASSWORD = "violet-harbor-lantern-42"


def login(client, email: str, password: str, remember: bool = False, next: str | None = None):
    data = {"email": email, "password": password}
    if remember:
        data["remember"] = "y"
    if next:
        data["next"] = next
    return post_form(client, "/login", data)


def signup(client, email: str, password: str = STRONG_PASSWORD, display_name: str = "Ada Lovelace", **extra):
    return post_form(
        client, "/signup", {"email": email, "password": password, "display_name": display_name, **extra}
    )


def logout(client):
    return post_form(client, "/account", {}, action="/logout")


def session_cookie(client):
    cookie = client.get_cookie("session", domain=client.host)
    return cookie.value if cookie else None


def link_path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.fixture
def user_row(in_tenant):
    """``user_row(tenant, user_id=..., email=...)`` -> a fresh User (detached snapshot)."""

    def fetch(tenant, user_id: int | None = None, email: str | None = None) -> User | None:
        with in_tenant(tenant):
            if user_id is not None:
                user = db.session.get(User, user_id)
            else:
                user = db.session.execute(
                    db.select(User).where(db.func.lower(User.email) == email.lower())
                ).scalar_one_or_none()
            if user is not None:
                db.session.expunge(user)
            return user

    return fetch


@pytest.fixture
def web():
    """The helpers above, for test modules (test directories are not packages)."""
    return SimpleNamespace(
        csrf_token=csrf_token,
        post_form=post_form,
        login=login,
        signup=signup,
        logout=logout,
        session_cookie=session_cookie,
        link_path=link_path,
        STRONG_PASSWORD=STRONG_PASSWORD,
    )
