"""Code & CI test kit: an active contract (tests/contracts' kit) with a linked repository, and
recorded-style webhook payloads signed the way GitHub and GitLab sign them."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.contracts.conftest import TERMS, contract_in, hiring, user  # noqa: F401  (fixtures)
from tests.gigs.conftest import api_token  # noqa: F401  (fixture)
from tests.jobs.conftest import people  # noqa: F401  (fixture)

PAYLOADS = Path(__file__).parent / "payloads"
GITHUB_REPO = "Ann-Dev/booking-tool"
GITLAB_REPO = "studio-ann/clients/booking-tool"
HEAD_SHA = "9f2c1e0b7d4a6c3e8f1a2b3c4d5e6f708192a3b4"


def payload(name: str) -> dict:
    return json.loads((PAYLOADS / f"{name}.json").read_text())


def github_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_github(
    client, event: str, data, secret: str, *, delivery: str | None = None, signature=None, **headers
):
    """POST a GitHub delivery: ``data`` (a dict, or raw bytes) signed with ``secret``."""
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    sent = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": signature if signature is not None else github_signature(secret, body),
        "User-Agent": "GitHub-Hookshot/5f0c3ad",
        **headers,
    }
    sent = {k: v for k, v in sent.items() if v is not None}
    return client.post("/webhooks/code/github", data=body, headers=sent, content_type="application/json")


def send_gitlab(client, event: str, data, secret: str, *, delivery: str | None = None, **headers):
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    sent = {
        "X-Gitlab-Event": event,
        "X-Gitlab-Event-UUID": delivery or str(uuid.uuid4()),
        "X-Gitlab-Token": secret,
        "User-Agent": "GitLab/17.5.0",
        **headers,
    }
    sent = {k: v for k, v in sent.items() if v is not None}
    return client.post("/webhooks/code/gitlab", data=body, headers=sent, content_type="application/json")


def pr_event(
    action="opened", *, number=42, merged=False, state=None, updated_at=None, title=None, sha=HEAD_SHA
):
    data = copy.deepcopy(payload("github_pull_request_opened"))
    data["action"] = action
    data["number"] = number
    pr = data["pull_request"]
    pr["number"] = number
    pr["html_url"] = f"https://github.com/{GITHUB_REPO}/pull/{number}"
    pr["head"]["sha"] = sha
    if title:
        pr["title"] = title
    if action == "closed":
        pr["state"] = "closed"
        pr["merged"] = merged
        pr["merged_at"] = "2026-11-02T11:00:00Z" if merged else None
        pr["closed_at"] = "2026-11-02T11:00:00Z"
    if state:
        pr["state"] = state
    pr["updated_at"] = updated_at or ("2026-11-02T11:00:00Z" if action == "closed" else pr["updated_at"])
    return data


def check_run_event(
    name="lint", *, run_id=20817364512, status="completed", conclusion="success", sha=HEAD_SHA
):
    data = copy.deepcopy(payload("github_check_run_completed"))
    run = data["check_run"]
    run.update(id=run_id, name=name, status=status, conclusion=conclusion if status == "completed" else None)
    run["head_sha"] = sha
    if status != "completed":
        run["completed_at"] = None
    return data


@pytest.fixture
def linked(request, in_tenant):
    """``linked(tenant, provider="github", full_name=GITHUB_REPO)`` -> an active contract (Ann
    hired by Cleo, milestone 1 funded) with the repository linked by Ann: people (``h``),
    ``contract_id``, ``order_id``, ``milestones``, ``link_id``, ``secret``."""
    from app.code import services
    from tenants.db import db

    make_contract = request.getfixturevalue("contract_in")

    def make(tenant, provider="github", full_name=None):
        h, contract_id, order_id, ids = make_contract(tenant)
        with in_tenant(tenant):
            name = full_name or (GITHUB_REPO if provider == "github" else GITLAB_REPO)
            link, secret = services.link_repo(user(h.ann), contract_id, provider, name)
            db.session.commit()
            return SimpleNamespace(
                h=h,
                contract_id=contract_id,
                order_id=order_id,
                milestones=ids,
                link_id=link.id,
                secret=secret,
            )

    return make
