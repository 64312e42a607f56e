"""The delivery engine: fan-out from the outbox, draining one endpoint, the sweep.

**Fan-out** (``fan_out``, a handler of every catalogue type, run by ``deliver_event`` at most
once per outbox event): renders the body once (``render``), stores the ``webhook_events`` row
(``outbox_event_id`` unique) and one pending delivery per enabled endpoint that wants the
type; after the commit, the tenant's drain is woken (``enqueue_drain``: one ``drain_tenant`` job
queued or running per tenant, Redis key ``t:<tenant>:wh:queued``; a running one is told to look
again, ``t:<tenant>:wh:more``).

**Draining a tenant** (``drain_tenant``; the RQ job is ``tasks.drain_tenant``): every endpoint
with due deliveries is drained in a thread of its own (up to ``WEBHOOK_DRAIN_THREADS`` at once),
so endpoints are sent to side by side and a slow one holds only its thread.

**Draining an endpoint** (``drain``): one drainer per endpoint at
a time (Redis lock ``t:<tenant>:wh:drain:<endpoint>``: the endpoint's concurrency limit, and
what keeps its events in order). A pass claims up to ``WEBHOOK_BATCH`` due deliveries in event
order (``FOR UPDATE SKIP LOCKED``), skipping those whose object has an earlier delivery to the
endpoint still waiting, leases them (``next_attempt_at`` pushed ``WEBHOOK_LEASE_SECONDS``
ahead) and commits; POSTs them one by one over one keep-alive session; then records every
attempt and outcome in one transaction (then counted: ``webhook_deliveries{delivered,failed}``,
one per attempt). A failed attempt blocks the endpoint until the next
step of the back-off (``blocked_until``; the rest of the batch is handed back unsent). A
drain stops after ``WEBHOOK_DRAIN_BUDGET_SECONDS`` and wakes the tenant's drain. A sender killed
mid-batch leaves leased rows that come due again when the lease runs out (the sweep finds
them): delivery is at least once.

**Sweep** (``sweep``, a periodic loop of ``flask worker``): enqueues the drain of every tenant
with due deliveries, purges events older than ``LOG_RETENTION_DAYS`` (cascading to deliveries and
attempts).

Every time-dependent function takes ``now`` (tests move the clock; HTTP stays real).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import certifi
import sqlalchemy as sa
import urllib3
from flask import current_app
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import aliased

from app.accounts.models import User
from app.core import metrics
from app.core.after_commit import on_commit
from app.core.jobs import app_job_context, tenant_job_context
from app.core.sweeps import tenants_with_due
from app.core.urls import tenant_url
from app.events.registry import handles
from app.extensions import get_queue, redis_store
from app.mail.services import send_email
from app.webhooks import catalogue, render, signing
from app.webhooks.models import (
    LOG_RETENTION_DAYS,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from app.webhooks.services import live_secrets
from app.webhooks.urls import UnsafeDestination, check_destination
from tenants.db import current_tenant, db

log = logging.getLogger(__name__)

USER_AGENT = "Gigforge-Webhooks/1"
RESPONSE_EXCERPT = 2000
READ_LIMIT = 64 * 1024
QUEUED_TTL = 60  # seconds a queued (or running, renewed) drain suppresses another of the tenant
REPLAY_TTL = 7 * 24 * 3600


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _redis():
    return redis_store.client


def _key(tenant_id: int, kind: str, endpoint_id: int) -> str:
    return f"t:{int(tenant_id)}:wh:{kind}:{int(endpoint_id)}"


def _tenant_key(tenant_id: int, kind: str) -> str:
    return f"t:{int(tenant_id)}:wh:{kind}"


# --- fan-out --------------------------------------------------------------------------------


def fan_out(event) -> None:
    """Outbox handler of every catalogue type: store the rendered event and one delivery per
    enabled endpoint that wants it; enqueue the tenant's drain after the commit. Nothing when
    no endpoint wants it. Core statements (no ORM flushes): it runs once per outbox event."""
    event_type = catalogue.BY_NAME.get(event.name)
    if event_type is None:
        return
    endpoint_ids = [
        endpoint_id
        for endpoint_id, types in db.session.execute(
            sa.select(WebhookEndpoint.id, WebhookEndpoint.event_types)
            .where(WebhookEndpoint.status == "enabled")
            .order_by(WebhookEndpoint.id)
        )
        if catalogue.wants(types, event.name)
    ]
    if not endpoint_ids:
        return
    payload = event.payload or {}
    key = render.object_key(event_type, payload)[:80]
    created = event.created_at or datetime.now(UTC)
    events = WebhookEvent.__table__
    event_id = db.session.execute(
        pg_insert(events)
        .values(outbox_event_id=event.id, type=event.name, object_key=key, body={}, created_at=created)
        .on_conflict_do_nothing(index_elements=[events.c.outbox_event_id])
        .returning(events.c.id)
    ).scalar()
    if event_id is None:
        return  # fanned out already (the unique outbox_event_id)
    try:
        obj = render.render_object(event_type, payload)
    except Exception:  # a rendering bug must not lose the event: send the reference
        log.exception("rendering %s of outbox event %s failed", event.name, event.id)
        obj = {"object": event_type.object, "id": render.object_id(event_type.object, payload)}
    body = render.event_body(
        event_id=event_id,
        type_=event.name,
        created=created,
        tenant_slug=current_tenant().slug,
        obj=obj,
        payload=payload,
    )
    db.session.execute(sa.update(events).where(events.c.id == event_id).values(body=body))
    db.session.execute(
        sa.insert(WebhookDelivery.__table__),
        [{"endpoint_id": e, "event_id": event_id, "object_key": key} for e in endpoint_ids],
    )
    on_commit(enqueue_drains, current_tenant().id, endpoint_ids)


for _event_type in catalogue.CATALOGUE:
    handles(_event_type.name)(fan_out)


def enqueue_drains(tenant_id: int, endpoint_ids: list[int] | None = None) -> None:
    """After a commit that made deliveries due: wake the tenant's drain (one for all endpoints)."""
    enqueue_drain(tenant_id)


def enqueue_drain(tenant_id: int, endpoint_id: int | None = None) -> bool:
    """Put a drain of the tenant's endpoints on the webhooks queue unless one is queued or
    running already (Redis key ``t:<tenant>:wh:queued``, held from the enqueue until that drain
    ends). When one is, flag ``t:<tenant>:wh:more``: the running drain looks for due endpoints
    again instead of a new job being queued. Returns whether it enqueued. A lost job is the
    sweep's to redo (the key expires). ``endpoint_id`` is accepted for the callers that know
    which endpoint became due; the tenant's drain finds it."""
    from app.webhooks.tasks import drain_tenant

    redis = _redis()
    if not redis.set(_tenant_key(tenant_id, "queued"), b"1", nx=True, ex=QUEUED_TTL):
        redis.set(_tenant_key(tenant_id, "more"), b"1", ex=QUEUED_TTL)
        return False
    redis.delete(_tenant_key(tenant_id, "more"))
    budget = current_app.config["WEBHOOK_DRAIN_BUDGET_SECONDS"]
    get_queue(current_app.config["WEBHOOK_QUEUE"]).enqueue(
        drain_tenant,
        tenant_id,
        job_timeout=int(budget + 4 * current_app.config["WEBHOOK_READ_TIMEOUT"] + 60),
        result_ttl=60,
        description=f"drain webhook endpoints of tenant {tenant_id}",
    )
    return True


def mark_replay(tenant_id: int, delivery_id: int) -> None:
    """Remember that a delivery's next attempt was asked for (its attempt records ``replay``)."""
    _redis().set(f"t:{int(tenant_id)}:wh:replay:{int(delivery_id)}", b"1", ex=REPLAY_TTL)


# --- sending --------------------------------------------------------------------------------

SESSIONS_MAX = 64
_sessions: OrderedDict[tuple[int, int], urllib3.PoolManager] = OrderedDict()
_sessions_lock = threading.Lock()


def _session(tenant_id: int, endpoint_id: int) -> urllib3.PoolManager:
    """A keep-alive connection pool per endpoint (urllib3 straight: a request costs half the
    CPU it costs through ``requests``), shared by the process's drain threads: only the
    endpoint's one drainer uses it at a time (the drain lock). No proxies from the
    environment (the URL is the destination), certifi's CAs like ``requests``."""
    key = (tenant_id, endpoint_id)
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None:
            session = urllib3.PoolManager(num_pools=4, maxsize=1, retries=False, ca_certs=certifi.where())
            _sessions[key] = session
            while len(_sessions) > SESSIONS_MAX:
                _sessions.popitem(last=False)  # not cleared: a drain may still use it (GC closes it)
        else:
            _sessions.move_to_end(key)
    return session


def close_sessions() -> None:
    with _sessions_lock:
        for session in _sessions.values():
            session.clear()
        _sessions.clear()


@dataclass
class Claimed:
    id: int
    event_id: int
    object_key: str
    attempts: int
    body: dict
    type: str


@dataclass
class Outcome:
    claimed: Claimed
    attempted_at: datetime
    duration_ms: int
    headers: dict
    status: int | None
    response: str | None
    error: str | None
    replay: bool

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class DrainResult:
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    reason: str = ""


def claim(endpoint_id: int, now: datetime, *, limit: int | None = None) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries of the endpoint in event order (commits the lease)."""
    limit = limit or current_app.config["WEBHOOK_BATCH"]
    lease = timedelta(seconds=current_app.config["WEBHOOK_LEASE_SECONDS"])
    d = WebhookDelivery
    earlier = aliased(WebhookDelivery)
    waiting_before = (
        sa.exists()
        .where(
            earlier.endpoint_id == d.endpoint_id,
            earlier.object_key == d.object_key,
            earlier.status == "pending",
            earlier.event_id < d.event_id,
            earlier.next_attempt_at > now,
        )
        .correlate(d)
    )
    ids = (
        sa.select(d.id)
        .where(d.endpoint_id == endpoint_id, d.status == "pending", d.next_attempt_at <= now, ~waiting_before)
        .order_by(d.event_id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=d)
    )
    rows = db.session.execute(
        sa.update(d)
        .where(d.id.in_(ids.scalar_subquery()))
        .values(next_attempt_at=now + lease)
        .returning(d.id, d.event_id, d.object_key, d.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    if not rows:
        db.session.commit()
        return []
    events = {
        e.id: (e.body, e.type)
        for e in db.session.execute(
            sa.select(WebhookEvent.id, WebhookEvent.body, WebhookEvent.type).where(
                WebhookEvent.id.in_([r.event_id for r in rows])
            )
        )
    }
    db.session.commit()  # the lease stands even if this sender dies now
    claimed = [Claimed(r.id, r.event_id, r.object_key, r.attempts, *events[r.event_id]) for r in rows]
    claimed.sort(key=lambda c: c.event_id)
    return claimed


def _post(session, url: str, item: Claimed, secrets_: list[str], now: datetime, replay: bool) -> Outcome:
    body = render.body_bytes(item.body)
    stamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        signing.HEADER: signing.header_value(secrets_, stamp, body),
        "Gigforge-Event-Id": str(item.body.get("id", "")),
        "Gigforge-Event-Type": item.type,
        "Gigforge-Delivery-Attempt": str(item.attempts + 1),
    }
    started = time.monotonic()
    status = response_text = error = None
    try:
        check_destination(url)
        timeout = urllib3.Timeout(
            connect=current_app.config["WEBHOOK_CONNECT_TIMEOUT"],
            read=current_app.config["WEBHOOK_READ_TIMEOUT"],
        )
        response = session.urlopen(
            "POST",
            url,
            body=body,
            headers=headers,
            timeout=timeout,
            redirect=False,
            retries=False,
            preload_content=False,
        )
        status, chunk, whole = response.status, b"", False
        try:
            chunk = response.read(READ_LIMIT, decode_content=True) or b""
            whole = len(chunk) < READ_LIMIT
        finally:
            if whole:
                response.release_conn()  # read to the end: the connection is kept alive
            else:
                response.close()  # a huge answer or a failed read: don't reuse the connection
        response_text = chunk[: RESPONSE_EXCERPT * 4].decode("utf-8", "replace")[:RESPONSE_EXCERPT]
    except UnsafeDestination as exc:
        error = f"refused: {exc}"
    except urllib3.exceptions.NewConnectionError as exc:  # (a subclass of ConnectTimeoutError)
        error = "connection failed: " + _short(exc)
    except urllib3.exceptions.ConnectTimeoutError:
        error = "connect timeout"
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
        error = "read timeout"
    except urllib3.exceptions.ProtocolError as exc:
        error = "connection failed: " + _short(exc)
    except urllib3.exceptions.HTTPError as exc:
        error = "request failed: " + _short(exc)
    except Exception as exc:
        error = f"{type(exc).__name__}: {_short(exc)}"
    duration = int((time.monotonic() - started) * 1000)
    if status is not None and not 200 <= status < 300 and error is None:
        error = f"HTTP {status}"
    return Outcome(item, now, duration, headers, status, response_text, error and error[:500], replay)


def _short(exc: Exception) -> str:
    text = str(exc)
    if "refused" in text.lower():
        return "connection refused"
    return text[:300]


def _replays(tenant_id: int, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    with _redis().pipeline() as pipe:
        for delivery_id in ids:
            pipe.getdel(f"t:{int(tenant_id)}:wh:replay:{int(delivery_id)}")
        found = pipe.execute()
    return {delivery_id for delivery_id, flag in zip(ids, found, strict=True) if flag}


def _schedule() -> list[int]:
    return list(current_app.config["WEBHOOK_RETRY_SCHEDULE"])


def record(
    endpoint_id: int, outcomes: list[Outcome], unsent: list[Claimed], now: datetime
) -> WebhookEndpoint | None:
    """Write a batch's attempts and outcomes, hand back the unsent ones, update the endpoint's
    failure state (and disable it after ``WEBHOOK_DISABLE_AFTER`` of failing); one transaction."""
    schedule = _schedule()
    if outcomes:
        db.session.execute(
            sa.insert(WebhookAttempt),
            [
                {
                    "delivery_id": o.claimed.id,
                    "attempt": min(o.claimed.attempts + 1, 32767),
                    "attempted_at": o.attempted_at,
                    "duration_ms": o.duration_ms,
                    "request_headers": o.headers,
                    "response_status": o.status,
                    "response_body": o.response,
                    "error": o.error,
                    "replay": o.replay,
                }
                for o in outcomes
            ],
        )
    good = [o for o in outcomes if o.ok]
    if good:
        table = WebhookDelivery.__table__  # Core executemany: one statement for the batch
        db.session.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("b_id"))
            .values(
                status="succeeded",
                attempts=table.c.attempts + 1,
                last_status_code=sa.bindparam("b_status"),
                last_error=None,
                completed_at=sa.bindparam("b_at"),
            ),
            [{"b_id": o.claimed.id, "b_status": o.status, "b_at": o.attempted_at} for o in good],
        )
    for o in outcomes:
        if o.ok:
            continue
        attempts = o.claimed.attempts + 1
        values = {"attempts": attempts, "last_status_code": o.status, "last_error": o.error}
        if attempts > len(schedule):
            values.update(status="failed", completed_at=o.attempted_at)
        else:
            values["next_attempt_at"] = o.attempted_at + timedelta(minutes=schedule[attempts - 1])
        db.session.execute(
            sa.update(WebhookDelivery)
            .where(WebhookDelivery.id == o.claimed.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    if unsent:
        db.session.execute(
            sa.update(WebhookDelivery)
            .where(WebhookDelivery.id.in_([c.id for c in unsent]), WebhookDelivery.status == "pending")
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
    endpoint = db.session.get(WebhookEndpoint, endpoint_id, with_for_update=True, populate_existing=True)
    if endpoint is not None and outcomes:
        last = outcomes[-1]
        if last.ok:
            endpoint.consecutive_failures = 0
            endpoint.failing_since = None
            endpoint.blocked_until = None
            endpoint.last_success_at = last.attempted_at
        else:
            if good:  # it worked for some before this one failed: a new failure streak
                endpoint.consecutive_failures, endpoint.failing_since = 0, None
                endpoint.last_success_at = good[-1].attempted_at
            endpoint.consecutive_failures += 1
            endpoint.failing_since = endpoint.failing_since or last.attempted_at
            step = schedule[min(endpoint.consecutive_failures, len(schedule)) - 1]
            endpoint.blocked_until = last.attempted_at + timedelta(minutes=step)
            disable_after = timedelta(seconds=current_app.config["WEBHOOK_DISABLE_AFTER"])
            if endpoint.status == "enabled" and endpoint.failing_since <= last.attempted_at - disable_after:
                _disable_failing(endpoint, last.attempted_at)
    db.session.commit()
    # Counted once the attempts' rows are committed: each attempt once (a batch whose commit
    # failed is sent again, and counted then).
    if good:
        metrics.webhook_deliveries.labels("delivered").inc(len(good))
    if len(outcomes) > len(good):
        metrics.webhook_deliveries.labels("failed").inc(len(outcomes) - len(good))
    return endpoint


def _disable_failing(endpoint: WebhookEndpoint, now: datetime) -> None:
    endpoint.status, endpoint.disabled_reason, endpoint.disabled_at = "disabled", "failing", now
    endpoint.version += 1
    endpoint.updated_at = now
    tenant = current_tenant()
    since = endpoint.failing_since.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    try:
        page = tenant_url(tenant, "console.webhook_endpoint", endpoint_id=endpoint.id)
    except Exception:  # the console's routes are not registered (a bare app): the list path
        page = tenant_url(tenant, f"/console/webhooks/{endpoint.id}")
    admins = db.session.scalars(
        sa.select(User).where(User.role == "admin", User.status == "active").order_by(User.id)
    ).all()
    for admin in admins:
        send_email(
            admin.email,
            "notice",
            "A webhook endpoint was disabled",
            {
                "heading": "A webhook endpoint was turned off",
                "paragraphs": [
                    f"Deliveries to {endpoint.url} have failed since {since}, so we disabled the "
                    "endpoint. Its events are kept and wait for it.",
                    "Fix the receiver, then enable the endpoint again in the console: the waiting "
                    "deliveries are sent at once.",
                ],
                "action_url": page,
                "action_label": "Open the endpoint",
            },
            user_id=admin.id,
        )
    log.warning("webhook endpoint %s of %s disabled (failing since %s)", endpoint.id, tenant.slug, since)


def drain(tenant_id: int, endpoint_id: int, *, now: datetime | None = None) -> DrainResult:
    """Send the endpoint's due deliveries (the drain job's body; tests call it with ``now``).

    Commits per pass on purpose (the lease, then the outcomes): a drain is many small units
    of work, so a sender killed mid-way loses at most one batch's records (sent again)."""
    result = DrainResult()
    redis = _redis()
    config = current_app.config
    budget = config["WEBHOOK_DRAIN_BUDGET_SECONDS"]
    lock = redis.lock(
        _key(tenant_id, "drain", endpoint_id),
        timeout=int(budget + 4 * config["WEBHOOK_READ_TIMEOUT"] + 30),
        blocking=False,
    )
    if not lock.acquire():
        redis.set(_key(tenant_id, "again", endpoint_id), b"1", ex=QUEUED_TTL)
        result.reason = "busy"
        return result
    again = False
    try:
        started = time.monotonic()
        lease_half = config["WEBHOOK_LEASE_SECONDS"] / 2
        while True:
            clock = _now(now)
            endpoint = db.session.get(WebhookEndpoint, endpoint_id, populate_existing=True)
            if endpoint is None or endpoint.status != "enabled":
                result.reason = "gone or disabled"
                break
            if endpoint.blocked_until is not None and endpoint.blocked_until > clock:
                result.reason = "blocked"
                break
            url, secrets_ = endpoint.url, live_secrets(endpoint, clock)
            batch = claim(endpoint_id, clock)
            if not batch:
                result.reason = "empty"
                break
            replays = _replays(tenant_id, [c.id for c in batch])
            session = _session(tenant_id, endpoint_id)
            outcomes: list[Outcome] = []
            unsent: list[Claimed] = []
            batch_started = time.monotonic()
            for index, item in enumerate(batch):
                outcome = _post(session, url, item, secrets_, _now(now), item.id in replays)
                outcomes.append(outcome)
                if not outcome.ok:
                    unsent = batch[index + 1 :]
                    break
                if time.monotonic() - batch_started > lease_half:
                    unsent = batch[index + 1 :]
                    break
            record(endpoint_id, outcomes, unsent, _now(now))
            result.sent += len(outcomes)
            result.succeeded += sum(1 for o in outcomes if o.ok)
            result.failed += sum(1 for o in outcomes if not o.ok)
            result.outcomes.extend(outcomes)
            if not outcomes[-1].ok:
                result.reason = "failed"
                break
            if time.monotonic() - started > budget:
                result.reason = "budget"
                again = True
                break
    finally:
        try:
            lock.release()
        except Exception:  # expired: another drainer may hold it now
            log.warning("webhook drain lock of endpoint %s expired before release", endpoint_id)
        if redis.getdel(_key(tenant_id, "again", endpoint_id)):
            again = True
    if again and now is None:
        enqueue_drain(tenant_id, endpoint_id)
    return result


def run_drain(tenant_id: int, endpoint_id: int, *, now: datetime | None = None) -> DrainResult | None:
    """``drain`` with the tenant bound (None when the tenant is gone)."""
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            return None
        return drain(tenant_id, endpoint_id, now=now)


DRAIN_THREADS = 8  # endpoints of one tenant sent to at once by its drain (WEBHOOK_DRAIN_THREADS)
MORE_POLL_SECONDS = 0.02  # how often a tenant's drain looks for newly due endpoints while sending


def due_endpoints(now: datetime) -> list[int]:
    """The bound tenant's enabled, unblocked endpoints with due deliveries."""
    return db.session.scalars(
        sa.select(WebhookDelivery.endpoint_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.status == "enabled",
            sa.or_(WebhookEndpoint.blocked_until.is_(None), WebhookEndpoint.blocked_until <= now),
        )
        .distinct()
    ).all()


def _drain_in_thread(app, tenant_id: int, endpoint_id: int) -> DrainResult | None:
    with app.app_context():
        try:
            return run_drain(tenant_id, endpoint_id)
        finally:
            db.session.remove()


def drain_tenant(tenant_id: int) -> DrainResult | None:
    """The drain job's body: drain every endpoint of the tenant with due deliveries, several
    endpoints at once (a thread each, up to ``WEBHOOK_DRAIN_THREADS``; each endpoint still by
    ``drain``: its lock, its order, its batches). While it runs it holds the tenant's
    ``queued`` key, so fan-outs only flag ``more`` and it looks again for due endpoints
    instead of another job being queued. Stops taking new endpoints after
    ``WEBHOOK_DRAIN_BUDGET_SECONDS`` and enqueues itself again when work is left. None when the
    tenant is gone."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    config = current_app.config
    app = current_app._get_current_object()
    redis = _redis()
    queued, more = _tenant_key(tenant_id, "queued"), _tenant_key(tenant_id, "more")
    budget = config["WEBHOOK_DRAIN_BUDGET_SECONDS"]
    started = time.monotonic()
    total = DrainResult()
    inflight: dict = {}
    skip_until: dict[int, float] = {}  # endpoints another process is draining (busy)
    recheck: set[int] = set()  # due again while their drain ran: look again when it ends
    look = True
    out_of_budget = False
    with tenant_job_context(tenant_id) as tenant:
        if tenant is None:
            redis.delete(queued)
            return None
    with ThreadPoolExecutor(
        max_workers=int(config.get("WEBHOOK_DRAIN_THREADS") or DRAIN_THREADS), thread_name_prefix="wh-drain"
    ) as pool:
        while True:
            redis.expire(queued, QUEUED_TTL)  # still running: no second job meanwhile
            if redis.getdel(more):
                look = True
            out_of_budget = time.monotonic() - started > budget
            if look and not out_of_budget:
                look = False
                with tenant_job_context(tenant_id) as tenant:
                    due = due_endpoints(datetime.now(UTC)) if tenant is not None else []
                clock = time.monotonic()
                for endpoint_id in due:
                    if endpoint_id in inflight:
                        recheck.add(endpoint_id)  # its drain may have looked before this commit
                    elif skip_until.get(endpoint_id, 0) <= clock:
                        inflight[endpoint_id] = pool.submit(_drain_in_thread, app, tenant_id, endpoint_id)
            if not inflight:
                break
            done, _ = wait(list(inflight.values()), timeout=MORE_POLL_SECONDS, return_when=FIRST_COMPLETED)
            for endpoint_id, future in list(inflight.items()):
                if future not in done:
                    continue
                del inflight[endpoint_id]
                if endpoint_id in recheck:
                    recheck.discard(endpoint_id)
                    look = True
                try:
                    result = future.result()
                except Exception:
                    log.exception("webhook drain of endpoint %s of tenant %s failed", endpoint_id, tenant_id)
                    skip_until[endpoint_id] = time.monotonic() + 1.0
                    continue
                if result is None:
                    continue
                if result.reason == "budget":
                    look = True  # its own budget ran out with work left
                elif result.reason == "busy":  # another process drains it (and is told "again")
                    skip_until[endpoint_id] = time.monotonic() + 1.0
                total.sent += result.sent
                total.succeeded += result.succeeded
                total.failed += result.failed
    redis.delete(queued)
    if redis.getdel(more) or out_of_budget:
        enqueue_drain(tenant_id)  # work came after the last look, or the budget ran out
    total.reason = "budget" if out_of_budget else "done"
    return total


# --- the sweep ------------------------------------------------------------------------------


def sweep(now: datetime | None = None) -> int:
    """Enqueue drains of every endpoint with due deliveries (retries come due, leases of dead
    senders run out) and purge old events; returns how many drains it enqueued."""
    with app_job_context():
        return _sweep(_now(now))


def _sweep(now: datetime) -> int:
    count = 0
    due = "status = 'pending' AND next_attempt_at <= :now"
    for tenant_id in tenants_with_due("webhook_deliveries", due, {"now": now}):
        with tenant_job_context(tenant_id) as tenant:
            if tenant is None:
                continue
            has_due = bool(due_endpoints(now))
        if has_due:
            count += enqueue_drain(tenant_id)
    purge(now)
    return count


def purge(now: datetime | None = None, *, batch: int = 1000) -> int:
    """Delete events older than ``LOG_RETENTION_DAYS`` in every tenant (their deliveries and
    attempts cascade); returns how many."""
    cutoff = _now(now) - timedelta(days=LOG_RETENTION_DAYS)
    removed = 0
    with app_job_context():
        removed = _purge(cutoff, batch)
    return removed


def _purge(cutoff: datetime, batch: int) -> int:
    removed = 0
    for tenant_id in tenants_with_due("webhook_events", "created_at < :cutoff", {"cutoff": cutoff}):
        with tenant_job_context(tenant_id) as tenant:
            if tenant is None:
                continue
            while True:
                ids = db.session.scalars(
                    sa.select(WebhookEvent.id).where(WebhookEvent.created_at < cutoff).limit(batch)
                ).all()
                if not ids:
                    break
                db.session.execute(sa.delete(WebhookEvent).where(WebhookEvent.id.in_(ids)))
                db.session.commit()  # one batch at a time: short transactions
                removed += len(ids)
    return removed
