"""Code & CI links of a contract: link a GitHub or GitLab repository (a webhook secret shown
once), receive its webhooks (signature checked, deliveries de-duplicated), record pull requests
and CI results, and summarise them for the milestone, the contract page, disputes and the API.

Nothing here calls GitHub or GitLab: everything arrives by webhook.

**The webhook** (``receive_webhook``), per tenant, on its host: ``POST /webhooks/code/github``
and ``/webhooks/code/gitlab``. The repository named in the payload (GitHub
``repository.full_name``, GitLab ``project.path_with_namespace``) selects the live links that
may have sent it; the signature (GitHub ``X-Hub-Signature-256``: ``sha256=`` + the hex
HMAC-SHA256 of the raw body with the link's secret) or token (GitLab ``X-Gitlab-Token``: the
secret itself) must match one of them, compared in constant time. A missing header, a bad
signature, an unknown repository and a removed link are all refused alike (``WebhookRefused``,
401, one body), so a caller learns nothing about what is linked. A delivery
(``X-GitHub-Delivery`` / ``X-Gitlab-Event-UUID``) is applied once; its replay answers
``{"duplicate": true}`` and changes nothing.

**Events** (outbox), published when a webhook changed something:

- ``pr.updated`` ``{"contract_id", "link_id", "pull_request_id", "number", "state"}``
- ``ci.updated`` ``{"contract_id", "link_id", "ci_run_id", "pull_request_id", "head_sha", "status"}``

No handler consumes them yet (the workroom's live panel and notifications may).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User
from app.code.models import PROVIDERS, CiRun, CodeDelivery, PullRequest, RepoLink
from app.contracts import services as contracts
from app.contracts.models import Contract
from app.core.crypto import decrypt_secret, encrypt_secret
from app.core.domain_errors import DomainError, Forbidden, NotFound
from app.core.ids import parse_id
from app.events import publish
from tenants.db import db

LINKABLE_STATUSES = ("awaiting_signatures", "active")
MAX_LIVE_LINKS = 5
PROVIDER_LABELS = {"github": "GitHub", "gitlab": "GitLab"}
PROVIDER_HOSTS = {"github": "github.com", "gitlab": "gitlab.com"}
# The most links one delivery is checked against when its payload names no repository (only
# to tell a malformed body with a valid signature, 400, from a forged one, 401).
MAX_CANDIDATES = 200


class CodeError(DomainError):
    code = "code_invalid"


class RepoLinkNotFound(NotFound):
    code = "repo_link_not_found"


class CodeForbidden(Forbidden):
    code = "code_forbidden"


class WebhookRefused(DomainError):
    """401, one message for every reason (never says whether a repository is linked)."""

    status = 401
    code = "webhook_refused"
    MESSAGE = "The webhook's signature does not match a repository linked on this marketplace."

    def __init__(self):
        super().__init__(self.MESSAGE)


class WebhookBadPayload(DomainError):
    status = 400
    code = "webhook_bad_payload"


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


# --------------------------------------------------------------------------- names

# GitHub: an owner of 1-39 letters, digits and single inner hyphens; a repository of 1-100
# letters, digits, ".", "_", "-" (not "." or "..", not ending in ".git").
_GITHUB_OWNER = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,38}$")
_GITHUB_REPO = re.compile(r"^[a-z0-9._-]{1,100}$")
# GitLab: a namespace of groups and subgroups, then the project; each path segment letters,
# digits, "_", "-", ".", not starting with "-" or ".", not ending in ".git" or ".atom".
_GITLAB_SEGMENT = re.compile(r"^[a-z0-9_][a-z0-9_.-]{0,99}$")
GITLAB_MAX_DEPTH = 21  # 20 nested groups and the project
FULL_NAME_MAX = 255


def normalize_full_name(provider: Any, value: Any) -> str:
    """``owner/name`` (GitLab: ``group/sub/name``) lower-cased, or CodeError on ``full_name``.
    A pasted repository address of the provider (``https://github.com/owner/name.git``) is
    accepted too."""
    if not isinstance(value, str) or not value.strip():
        raise CodeError({"full_name": "Give the repository as owner/name."})
    name = value.strip().lower()
    host = PROVIDER_HOSTS.get(provider, "")
    for prefix in (f"https://{host}/", f"http://{host}/", f"{host}/"):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    name = name.strip("/")
    if name.endswith(".git"):
        name = name[:-4]
    parts = name.split("/")
    if provider == "github":
        ok = (
            len(parts) == 2
            and bool(_GITHUB_OWNER.match(parts[0]))
            and bool(_GITHUB_REPO.match(parts[1]))
            and parts[1] not in (".", "..")
        )
        hint = "A GitHub repository is owner/name (letters, digits, '-', '_' and '.')."
    else:
        ok = (
            2 <= len(parts) <= GITLAB_MAX_DEPTH
            and len(name) <= FULL_NAME_MAX
            and all(
                _GITLAB_SEGMENT.match(p) and not p.endswith((".git", ".atom")) and ".." not in p
                for p in parts
            )
        )
        hint = "A GitLab project is group/name or group/subgroup/name (letters, digits, '-', '_' and '.')."
    if not ok:
        raise CodeError({"full_name": hint})
    return name


def _provider(value: Any) -> str:
    if value not in PROVIDERS:
        raise CodeError({"provider": "Choose GitHub or GitLab."})
    return value


# --------------------------------------------------------------------------- links


def _party_contract(user: User, contract_id: Any) -> Contract:
    contract = contracts.get_contract(user, contract_id)  # 404 unless a party (or an admin)
    if contract.party(user.id) is None:
        raise CodeForbidden("Only the contract's client and freelancer can manage its repositories.")
    return contract


def link_repo(
    actor: User, contract_id: Any, provider: Any, full_name: Any, *, now: datetime | None = None
) -> tuple[RepoLink, str]:
    """Link a repository to a contract the actor is a party to; flushes. Returns the link and
    its webhook secret in plain text: shown once, stored only encrypted.

    Raises ContractNotFound (not a party), CodeForbidden (an admin who is no party),
    ContractStateError (409: the contract is not awaiting signatures or active), CodeError
    (bad provider or name; already linked; too many links).
    """
    errors: dict[str, str] = {}
    try:
        provider = _provider(provider)
    except CodeError as exc:
        errors.update(exc.errors)
    try:
        name = normalize_full_name(provider, full_name)
    except CodeError as exc:
        errors.update(exc.errors)
    contract = _party_contract(actor, contract_id)
    if errors:
        raise CodeError(errors)
    if contract.status not in LINKABLE_STATUSES:
        raise contracts.ContractStateError(
            f"Contract {contract.number} is {contracts.status_label(contract.status).lower()}: "
            "you cannot link a repository now.",
            extra={"current_status": contract.status},
        )
    live = links_of(contract)
    if any(link.provider == provider and link.full_name == name for link in live):
        raise CodeError(
            {"full_name": "This repository is already linked to the contract."}, code="already_linked"
        )
    if len(live) >= MAX_LIVE_LINKS:
        raise CodeError(
            {"full_name": f"A contract links at most {MAX_LIVE_LINKS} repositories."}, code="too_many_links"
        )
    secret = secrets.token_urlsafe(32)
    link = RepoLink(
        contract_id=contract.id,
        provider=provider,
        full_name=name,
        secret_encrypted=encrypt_secret(secret),
        created_by=actor.id,
        created_at=_now(now),
    )
    try:
        with db.session.begin_nested():  # the other party linked the same repository just now
            db.session.add(link)
            db.session.flush()
    except IntegrityError:
        raise CodeError(
            {"full_name": "This repository is already linked to the contract."}, code="already_linked"
        ) from None
    return link, secret


def get_link(actor: User, contract_id: Any, link_id: Any) -> RepoLink:
    """A live link of a contract the actor is a party to (admins read too); RepoLinkNotFound."""
    contract = contracts.get_contract(actor, contract_id)
    lid = parse_id(link_id, maximum=2_147_483_647)
    link = db.session.get(RepoLink, lid) if lid else None
    if link is None or link.contract_id != contract.id or link.removed_at is not None:
        raise RepoLinkNotFound("This repository link does not exist.")
    return link


def unlink(actor: User, contract_id: Any, link_id: Any, *, now: datetime | None = None) -> RepoLink:
    """Remove a live link (either party, whatever the contract's status); flushes. Its webhook is
    refused from now on; its pull requests and CI runs stay (disputes may quote them).
    Raises ContractNotFound, CodeForbidden, RepoLinkNotFound."""
    _party_contract(actor, contract_id)
    link = get_link(actor, contract_id, link_id)
    link.removed_at = _now(now)
    link.removed_by = actor.id
    db.session.flush()
    return link


def links_of(contract: Contract, *, include_removed: bool = False) -> list[RepoLink]:
    query = sa.select(RepoLink).where(RepoLink.contract_id == contract.id)
    if not include_removed:
        query = query.where(RepoLink.removed_at.is_(None))
    return list(db.session.scalars(query.order_by(RepoLink.id)))


def list_links(actor: User, contract_id: Any) -> list[RepoLink]:
    """The live links of a contract the actor may read (ContractNotFound otherwise)."""
    return links_of(contracts.get_contract(actor, contract_id))


# --------------------------------------------------------------------------- CI summaries

_DETAIL_KINDS = ("check_run", "job")
_SUITE_KINDS = ("check_suite", "pipeline")


@dataclass
class CiSummary:
    """The latest CI of one commit: ``status`` (failed > running > cancelled > passed; None
    without any run), ``text`` ("3 checks passed", "lint failed", "2 running") and the runs."""

    status: str | None
    text: str
    runs: list[CiRun] = field(default_factory=list)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summarize(runs: list[CiRun]) -> CiSummary:
    """One commit's runs summed up. Per-check rows (GitHub check runs, GitLab jobs) are counted
    when there are any (a re-run's newest row per name), else the suites/pipelines."""
    detail = [r for r in runs if r.kind in _DETAIL_KINDS]
    chosen = detail or [r for r in runs if r.kind in _SUITE_KINDS]
    latest: dict[str, CiRun] = {}
    for run in sorted(chosen, key=lambda r: (r.updated_at, r.id or 0)):
        latest[run.name or run.external_id] = run
    rows = sorted(latest.values(), key=lambda r: r.name)
    if not rows:
        return CiSummary(None, "No CI results yet", [])
    by = {
        s: [r for r in rows if r.status == s] for s in ("failed", "running", "queued", "cancelled", "passed")
    }
    word = "check" if detail or rows[0].kind == "check_suite" else "pipeline"
    parts: list[str] = []
    if by["failed"]:
        names = [r.name for r in by["failed"] if r.name]
        if len(by["failed"]) == 1 and names:
            parts.append(f"{names[0]} failed")
        else:
            parts.append(f"{_plural(len(by['failed']), word)} failed")
    running = len(by["running"]) + len(by["queued"])
    if running:
        parts.append(f"{running} running")
    if by["cancelled"]:
        parts.append(f"{len(by['cancelled'])} cancelled")
    if by["passed"]:
        parts.append(
            f"{_plural(len(by['passed']), word)} passed" if len(parts) == 0 else f"{len(by['passed'])} passed"
        )
    if by["failed"]:
        status = "failed"
    elif running:
        status = "running"
    elif by["cancelled"]:
        status = "cancelled"
    else:
        status = "passed"
    return CiSummary(status, ", ".join(parts), rows)


def runs_of_head(link_id: int, head_sha: str) -> list[CiRun]:
    if not head_sha:
        return []
    return list(
        db.session.scalars(
            sa.select(CiRun).where(CiRun.link_id == link_id, CiRun.head_sha == head_sha).order_by(CiRun.id)
        )
    )


def ci_of(pr: PullRequest) -> CiSummary:
    """The latest CI of a pull request's head commit."""
    return summarize(runs_of_head(pr.link_id, pr.head_sha))


def pull_requests_of(contract: Contract, *, states: tuple[str, ...] | None = None, limit: int = 100):
    """The contract's pull requests (its live and removed links), most recently updated first."""
    query = (
        sa.select(PullRequest)
        .join(RepoLink, RepoLink.id == PullRequest.link_id)
        .where(RepoLink.contract_id == contract.id)
    )
    if states:
        query = query.where(PullRequest.state.in_(states))
    return list(
        db.session.scalars(query.order_by(PullRequest.updated_at.desc(), PullRequest.id.desc()).limit(limit))
    )


def list_pull_requests(actor: User, contract_id: Any) -> list[PullRequest]:
    """The pull requests of a contract the actor may read, each with ``ci`` (a CiSummary) and
    ``repo`` (its link's full name)."""
    contract = contracts.get_contract(actor, contract_id)
    links = {link.id: link for link in links_of(contract, include_removed=True)}
    rows = pull_requests_of(contract)
    for pr in rows:
        pr.ci = ci_of(pr)
        pr.repo = links[pr.link_id].full_name
        pr.provider = links[pr.link_id].provider
    return rows


@dataclass
class RepoPanel:
    link: RepoLink
    pull_requests: list = field(default_factory=list)  # [(PullRequest, CiSummary)]


def repo_summary(contract_id: int, *, recent: int = 5, open_only: bool = True) -> list[RepoPanel]:
    """For a side panel (the workroom): the contract's live links, each with its open pull
    requests (or, with ``open_only=False``, its ``recent`` latest) and their latest CI. The
    caller has checked the viewer is a party."""
    contract = db.session.get(Contract, contract_id)
    if contract is None:
        return []
    panels = []
    for link in links_of(contract):
        query = sa.select(PullRequest).where(PullRequest.link_id == link.id)
        if open_only:
            query = query.where(PullRequest.state == "open")
        prs = db.session.scalars(
            query.order_by(PullRequest.updated_at.desc(), PullRequest.id.desc()).limit(recent)
        )
        panels.append(RepoPanel(link, [(pr, ci_of(pr)) for pr in prs]))
    return panels


# --------------------------------------------------------------------------- submission links

_GITHUB_PR = re.compile(r"^https://github\.com/([^/\s]+/[^/\s]+)/pull/(\d{1,9})(?:[/?#].*)?$", re.I)
_GITLAB_MR = re.compile(r"^https://gitlab\.com/([^\s]+?)/-/merge_requests/(\d{1,9})(?:[/?#].*)?$", re.I)
PREVIEW_HOSTS = {"vercel.app": "Vercel", "netlify.app": "Netlify", "onrender.com": "Render"}


@dataclass
class SubmissionLink:
    """A milestone submission's link as the code domain reads it: ``kind`` ``pr`` (with the
    linked ``pr`` row when a webhook reported it, and its ``ci``) or ``preview`` (``label``)."""

    url: str
    kind: str
    label: str
    provider: str | None = None
    repo: str | None = None
    number: int | None = None
    linked: bool = False
    pr: PullRequest | None = None
    ci: CiSummary | None = None


def classify_link(url: str) -> SubmissionLink | None:
    """A pull/merge request address, a preview (Vercel, Netlify, Render, any other https
    address), or None (not https)."""
    if not isinstance(url, str):
        return None
    for provider, pattern in (("github", _GITHUB_PR), ("gitlab", _GITLAB_MR)):
        match = pattern.match(url)
        if match:
            label = "Pull request" if provider == "github" else "Merge request"
            return SubmissionLink(
                url, "pr", label, provider=provider, repo=match.group(1).lower(), number=int(match.group(2))
            )
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return None
    host = parts.hostname.lower()
    for suffix, label in PREVIEW_HOSTS.items():
        if host == suffix or host.endswith("." + suffix):
            return SubmissionLink(url, "preview", label)
    return SubmissionLink(url, "preview", "Preview")


def submission_links(contract: Contract, links: list) -> list[SubmissionLink]:
    """A milestone's submission links classified, PRs of the contract's repositories with their
    state and latest CI."""
    out = [c for c in (classify_link(url) for url in links or []) if c is not None]
    if not any(c.kind == "pr" for c in out):
        return out
    repos = {(link.provider, link.full_name): link for link in links_of(contract, include_removed=True)}
    for c in out:
        if c.kind != "pr":
            continue
        link = repos.get((c.provider, c.repo))
        if link is None:
            continue
        c.linked = True
        c.pr = db.session.scalar(
            sa.select(PullRequest).where(PullRequest.link_id == link.id, PullRequest.number == c.number)
        )
        if c.pr is not None:
            c.ci = ci_of(c.pr)
    return out


# --------------------------------------------------------------------------- disputes


def evidence_pull_request(contract_id: int, pull_request_id: Any) -> PullRequest | None:
    """A pull request of the contract (any of its links, removed ones too), else None."""
    pid = parse_id(pull_request_id)
    pr = db.session.get(PullRequest, pid) if pid else None
    if pr is None:
        return None
    link = db.session.get(RepoLink, pr.link_id)
    return pr if link is not None and link.contract_id == contract_id else None


def evidence_ci_run(contract_id: int, ci_run_id: Any) -> CiRun | None:
    """A CI run of the contract (any of its links), else None."""
    rid = parse_id(ci_run_id)
    run = db.session.get(CiRun, rid) if rid else None
    if run is None:
        return None
    link = db.session.get(RepoLink, run.link_id)
    return run if link is not None and link.contract_id == contract_id else None


def link_of(row) -> RepoLink:
    return db.session.get(RepoLink, row.link_id)


def ci_runs_of(contract: Contract, *, limit: int = 50) -> list[CiRun]:
    """The contract's CI runs, newest first (for picking evidence)."""
    return list(
        db.session.scalars(
            sa.select(CiRun)
            .join(RepoLink, RepoLink.id == CiRun.link_id)
            .where(RepoLink.contract_id == contract.id)
            .order_by(CiRun.updated_at.desc(), CiRun.id.desc())
            .limit(limit)
        )
    )


# --------------------------------------------------------------------------- the webhook

HEADERS = {
    "github": ("X-Hub-Signature-256", "X-GitHub-Event", "X-GitHub-Delivery"),
    "gitlab": ("X-Gitlab-Token", "X-Gitlab-Event", "X-Gitlab-Event-UUID"),
}


def _header(headers, name: str, max_len: int = 200) -> str | None:
    value = headers.get(name)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if value and len(value) <= max_len and value.isprintable() else None


def _repo_name(provider: str, payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    holder = payload.get("repository" if provider == "github" else "project")
    name = (
        holder.get("full_name" if provider == "github" else "path_with_namespace")
        if isinstance(holder, dict)
        else None
    )
    if not isinstance(name, str) or not name or len(name) > FULL_NAME_MAX:
        return None
    return name.lower()


def _signed_by(provider: str, secret: str, signature: str, raw_body: bytes) -> bool:
    if provider == "github":
        expected = "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), signature.encode())
    return hmac.compare_digest(secret.encode(), signature.encode())


def _verified_link(provider: str, signature: str, raw_body: bytes, name: str | None) -> RepoLink | None:
    query = sa.select(RepoLink).where(RepoLink.provider == provider, RepoLink.removed_at.is_(None))
    query = query.where(RepoLink.full_name == name) if name else query.limit(MAX_CANDIDATES)
    candidates = list(db.session.scalars(query.order_by(RepoLink.id)))
    if not candidates:
        # As much work as for one link: the time taken does not tell a linked repository.
        _signed_by(provider, secrets.token_urlsafe(32), signature, raw_body)
        return None
    found = None
    for link in candidates:
        if (
            _signed_by(provider, decrypt_secret(link.secret_encrypted) or "", signature, raw_body)
            and found is None
        ):
            found = link
    return found


@dataclass
class WebhookResult:
    body: dict
    status: int = 200


def receive_webhook(provider: str, headers, raw_body: bytes, *, now: datetime | None = None) -> WebhookResult:
    """Verify, de-duplicate and apply one delivery of ``provider`` (``github`` / ``gitlab``);
    flushes. Returns the answer's body: ``{"ok": true, "event", "changed"}``, ``{"duplicate":
    true}``, ``{"ignored": true}`` (an event we do not record) or ``{"pong": true}``.

    Raises WebhookRefused (401: a missing header, a bad signature, an unknown repository, a
    removed link; one body for all) and WebhookBadPayload (400: a validly signed body that is
    not the JSON the event should be). Nothing is stored on a refusal (the request rolls back).
    """
    if provider not in HEADERS:
        raise WebhookRefused()
    sig_header, event_header, delivery_header = HEADERS[provider]
    signature = _header(headers, sig_header, 512)
    event = _header(headers, event_header, 64)
    delivery = _header(headers, delivery_header, 100)
    if signature is None or event is None or delivery is None:
        raise WebhookRefused()
    try:
        payload = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        payload = None
    name = _repo_name(provider, payload)
    link = _verified_link(provider, signature, raw_body, name)
    if link is None:
        raise WebhookRefused()
    if not isinstance(payload, dict) or name is None:
        raise WebhookBadPayload("The body is not the JSON of a repository's webhook event.")
    now = _now(now)
    inserted = db.session.execute(
        pg_insert(CodeDelivery)
        .values(provider=provider, delivery_id=delivery, link_id=link.id, event=event[:64], received_at=now)
        .on_conflict_do_nothing()
        .returning(CodeDelivery.id)
    ).scalar()
    if inserted is None:
        return WebhookResult({"duplicate": True})
    link.last_delivery_at = now
    handler = _HANDLERS.get((provider, event))
    if handler is None:
        db.session.flush()
        return WebhookResult({"ignored": True, "event": event})
    outcome = handler(link, payload, now)
    db.session.flush()
    return WebhookResult(
        outcome if isinstance(outcome, dict) else {"ok": True, "event": event, "changed": bool(outcome)}
    )


# Payload readers: a validly signed payload still gets checked (a 400, never a 500).


def _dict(d: Any, key: str, *, required: bool = True) -> dict:
    value = d.get(key) if isinstance(d, dict) else None
    if isinstance(value, dict):
        return value
    if required:
        raise WebhookBadPayload(f"The payload has no {key} object.")
    return {}


def _str(d: Any, key: str, max_len: int, default: str = "") -> str:
    value = d.get(key) if isinstance(d, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return default
    return value.replace("\x00", "")[:max_len]


def _int(d: Any, key: str) -> int:
    value = d.get(key) if isinstance(d, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 2_147_483_647:
        raise WebhookBadPayload(f"The payload's {key} is not a positive number.")
    return value


def _id(d: Any, key: str) -> str:
    value = d.get(key) if isinstance(d, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value) or len(str(value)) > 60:
        raise WebhookBadPayload(f"The payload's {key} is missing.")
    return str(value)


def _time(value: Any, default: datetime) -> datetime:
    if not isinstance(value, str) or not value:
        return default
    text = value.strip().replace(" UTC", "+00:00").replace("Z", "+00:00")
    if len(text) > 19 and text[10] == " ":
        text = text[:10] + "T" + text[11:]
    text = re.sub(r" ([+-]\d{2})(\d{2})$", r"\1:\2", text)  # GitLab's "... +0100"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return default
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _https(value: str) -> str | None:
    return value if value.startswith("https://") and len(value) <= 500 else None


def _upsert_pr(link: RepoLink, number: int, fields: dict, when: datetime) -> PullRequest | None:
    """Apply a pull request's report unless an equal or newer one was applied; a merged one stays
    merged. Returns the row when it changed."""
    pr = db.session.scalar(
        sa.select(PullRequest)
        .where(PullRequest.link_id == link.id, PullRequest.number == number)
        .with_for_update()
    )
    if not fields.get("author"):
        fields.pop("author", None)  # only the opening report names the author (GitLab)
    if pr is None:
        pr = PullRequest(link_id=link.id, number=number, updated_at=when, **fields)
        db.session.add(pr)
    else:
        if when < pr.updated_at:
            return None
        if pr.state == "merged":
            fields["state"] = "merged"
            fields.pop("merged_at", None)
        changed = when > pr.updated_at or any(getattr(pr, k) != v for k, v in fields.items() if v is not None)
        if not changed:
            return None
        for key, value in fields.items():
            if value is not None:
                setattr(pr, key, value)
        pr.updated_at = when
    db.session.flush()
    publish(
        "pr.updated",
        {
            "contract_id": link.contract_id,
            "link_id": link.id,
            "pull_request_id": pr.id,
            "number": pr.number,
            "state": pr.state,
        },
    )
    return pr


_TERMINAL = ("passed", "failed", "cancelled")


def _pr_for(link: RepoLink, numbers: list[int], head_sha: str) -> int | None:
    query = sa.select(PullRequest.id).where(PullRequest.link_id == link.id)
    if numbers:
        found = db.session.scalar(query.where(PullRequest.number.in_(numbers)).order_by(PullRequest.number))
        if found:
            return found
    if head_sha:
        return db.session.scalar(
            query.where(PullRequest.head_sha == head_sha).order_by(PullRequest.id.desc())
        )
    return None


def _upsert_run(
    link: RepoLink, kind: str, external: str, fields: dict, when: datetime, numbers=()
) -> CiRun | None:
    """Apply a CI report unless a newer one was applied (at the same time, a finished state
    wins over a running one). Returns the row when it changed."""
    external_id = f"{kind}:{external}"[:80]
    run = db.session.scalar(
        sa.select(CiRun).where(CiRun.link_id == link.id, CiRun.external_id == external_id).with_for_update()
    )
    pull_request_id = _pr_for(link, list(numbers), fields.get("head_sha", ""))
    if run is None:
        run = CiRun(link_id=link.id, kind=kind, external_id=external_id, updated_at=when, **fields)
        run.pull_request_id = pull_request_id
        db.session.add(run)
    else:
        if when < run.updated_at or (
            when == run.updated_at and run.status in _TERMINAL and fields["status"] not in _TERMINAL
        ):
            return None
        if all(getattr(run, k) == v for k, v in fields.items()) and run.pull_request_id == (
            pull_request_id or run.pull_request_id
        ):
            return None
        for key, value in fields.items():
            setattr(run, key, value)
        run.pull_request_id = pull_request_id or run.pull_request_id
        run.updated_at = when
    db.session.flush()
    publish(
        "ci.updated",
        {
            "contract_id": link.contract_id,
            "link_id": link.id,
            "ci_run_id": run.id,
            "pull_request_id": run.pull_request_id,
            "head_sha": run.head_sha,
            "status": run.status,
        },
    )
    return run


# GitHub ---------------------------------------------------------------------------

GITHUB_PR_ACTIONS = ("opened", "reopened", "synchronize", "edited", "closed")
GITHUB_CONCLUSIONS = {
    "success": "passed",
    "neutral": "passed",
    "skipped": "passed",
    "failure": "failed",
    "timed_out": "failed",
    "action_required": "failed",
    "startup_failure": "failed",
    "cancelled": "cancelled",
    "stale": "cancelled",
}
GITHUB_RUN_STATUSES = {
    "queued": "queued",
    "requested": "queued",
    "waiting": "queued",
    "pending": "queued",
    "in_progress": "running",
}


def _github_status(status: Any, conclusion: Any) -> str:
    if status == "completed":
        return GITHUB_CONCLUSIONS.get(conclusion, "failed" if conclusion else "passed")
    return GITHUB_RUN_STATUSES.get(status, "queued")


def _github_pr_numbers(obj: dict) -> list[int]:
    prs = obj.get("pull_requests")
    if not isinstance(prs, list):
        return []
    return [
        p["number"]
        for p in prs[:20]
        if isinstance(p, dict) and isinstance(p.get("number"), int) and 0 < p["number"] < 2**31
    ]


def _github_pull_request(link: RepoLink, payload: dict, now: datetime):
    action = payload.get("action")
    if action not in GITHUB_PR_ACTIONS:
        return {"ignored": True, "event": "pull_request", "action": str(action)[:40]}
    pr = _dict(payload, "pull_request")
    number = _int(pr, "number") if "number" in pr else _int(payload, "number")
    merged = pr.get("merged") is True
    state = "merged" if merged else ("closed" if pr.get("state") == "closed" else "open")
    head = _dict(pr, "head", required=False)
    fields = {
        "title": _str(pr, "title", 300),
        "url": _https(_str(pr, "html_url", 500)) or "",
        "author": _str(_dict(pr, "user", required=False), "login", 100),
        "state": state,
        "head_sha": _str(head, "sha", 64),
        "merged_at": _time(pr.get("merged_at"), now) if merged else None,
    }
    return _upsert_pr(link, number, fields, _time(pr.get("updated_at"), now)) is not None


def _github_check_suite(link: RepoLink, payload: dict, now: datetime):
    suite = _dict(payload, "check_suite")
    action = payload.get("action")
    if action not in ("completed", "requested", "rerequested"):
        return {"ignored": True, "event": "check_suite", "action": str(action)[:40]}
    status = _github_status(
        "completed" if action == "completed" else suite.get("status"), suite.get("conclusion")
    )
    app_info = _dict(suite, "app", required=False)
    fields = {
        "head_sha": _str(suite, "head_sha", 64),
        "name": _str(app_info, "name", 200) or "checks",
        "status": status,
        "summary": _str(suite, "conclusion", 500),
        "url": None,
    }
    when = _time(suite.get("updated_at"), now)
    return (
        _upsert_run(link, "check_suite", _id(suite, "id"), fields, when, _github_pr_numbers(suite))
        is not None
    )


def _github_check_run(link: RepoLink, payload: dict, now: datetime):
    run = _dict(payload, "check_run")
    status = _github_status(run.get("status"), run.get("conclusion"))
    output = _dict(run, "output", required=False)
    fields = {
        "head_sha": _str(run, "head_sha", 64),
        "name": _str(run, "name", 200) or "check",
        "status": status,
        "summary": _str(output, "title", 500),
        "url": _https(_str(run, "html_url", 500)),
    }
    when = _time(run.get("completed_at") or run.get("started_at"), now)
    return _upsert_run(link, "check_run", _id(run, "id"), fields, when, _github_pr_numbers(run)) is not None


def _github_ping(link: RepoLink, payload: dict, now: datetime):
    return {"pong": True}


# GitLab ---------------------------------------------------------------------------

GITLAB_MR_STATES = {
    "opened": "open",
    "reopened": "open",
    "closed": "closed",
    "merged": "merged",
    "locked": "closed",
}
GITLAB_STATUSES = {
    "created": "queued",
    "waiting_for_resource": "queued",
    "preparing": "queued",
    "pending": "queued",
    "scheduled": "queued",
    "manual": "queued",
    "running": "running",
    "success": "passed",
    "failed": "failed",
    "canceled": "cancelled",
    "canceling": "cancelled",
    "skipped": "cancelled",
}


def _gitlab_merge_request(link: RepoLink, payload: dict, now: datetime):
    mr = _dict(payload, "object_attributes")
    action = mr.get("action")
    if action not in (None, "open", "reopen", "update", "merge", "close"):
        return {"ignored": True, "event": "Merge Request Hook", "action": str(action)[:40]}
    number = _int(mr, "iid")
    state = GITLAB_MR_STATES.get(mr.get("state"), "open")
    last_commit = _dict(mr, "last_commit", required=False)
    when = _time(mr.get("updated_at"), now)
    fields = {
        "title": _str(mr, "title", 300),
        "url": _https(_str(mr, "url", 500)) or "",
        "author": _str(_dict(payload, "user", required=False), "username", 100) if action == "open" else "",
        "state": state,
        "head_sha": _str(last_commit, "id", 64),
        "merged_at": when if state == "merged" else None,
    }
    return _upsert_pr(link, number, fields, when) is not None


def _gitlab_pipeline(link: RepoLink, payload: dict, now: datetime):
    pipeline = _dict(payload, "object_attributes")
    status = GITLAB_STATUSES.get(pipeline.get("status"), "queued")
    head_sha = _str(pipeline, "sha", 64)
    mr = _dict(payload, "merge_request", required=False)
    numbers = [mr["iid"]] if isinstance(mr.get("iid"), int) and 0 < mr["iid"] < 2**31 else []
    pid = _id(pipeline, "id")
    when = _time(pipeline.get("finished_at") or pipeline.get("created_at"), now)
    builds = payload.get("builds") if isinstance(payload.get("builds"), list) else []
    failed = [_str(b, "name", 100) for b in builds if isinstance(b, dict) and b.get("status") == "failed"]
    fields = {
        "head_sha": head_sha,
        "name": _str(pipeline, "name", 200) or f"Pipeline #{pid}",
        "status": status,
        "summary": (", ".join(failed) + " failed")[:500]
        if failed
        else _str(pipeline, "detailed_status", 500),
        "url": _https(_str(pipeline, "url", 500)),
    }
    changed = _upsert_run(link, "pipeline", pid, fields, when, numbers) is not None
    for build in builds[:100]:
        if not isinstance(build, dict):
            continue
        build_fields = {
            "head_sha": head_sha,
            "name": _str(build, "name", 200) or "job",
            "status": GITLAB_STATUSES.get(build.get("status"), "queued"),
            "summary": _str(build, "stage", 500),
            "url": None,
        }
        build_when = _time(
            build.get("finished_at") or build.get("started_at") or build.get("created_at"), when
        )
        changed = (
            _upsert_run(link, "job", _id(build, "id"), build_fields, build_when, numbers) is not None
            or changed
        )
    return changed


_HANDLERS = {
    ("github", "pull_request"): _github_pull_request,
    ("github", "check_suite"): _github_check_suite,
    ("github", "check_run"): _github_check_run,
    ("github", "ping"): _github_ping,
    ("gitlab", "Merge Request Hook"): _gitlab_merge_request,
    ("gitlab", "Pipeline Hook"): _gitlab_pipeline,
}
