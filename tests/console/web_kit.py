"""Signing in to a tenant on the web and through the API, for the console's users and gig
moderation tests. The CSRF pattern also matches prefixed forms (``approve-csrf_token``)."""

from __future__ import annotations

import re

PASSWORD = "correct-horse-battery"
CSRF_RE = re.compile(r'name="[\w-]*csrf_token" type="hidden" value="([^"]+)"')


def csrf(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return CSRF_RE.search(response.get_data(as_text=True)).group(1)


def web_login(client, email: str, password: str = PASSWORD):
    response = client.post(
        "/login", data={"csrf_token": csrf(client, "/login"), "email": email, "password": password}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    return client


def token(client, email: str, password: str = PASSWORD) -> dict:
    response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.json
    return {"Authorization": f"Bearer {response.json['access_token']}"}
