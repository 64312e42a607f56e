"""Notification rules: storing, pushing, counting, reading, preferences and email batches.

Every function acts for the bound tenant, flushes and never commits; the
request or job that calls it commits once. Side effects outside the database
(Socket.IO pushes, scheduling an email batch) are queued with ``on_commit``,
so nothing is pushed or mailed for a transaction that rolls back.

Socket.IO events (to the user's room, ``app.realtime.user_room``):

- ``notification``: one new notification, as ``serialize(notification)``;
- ``unread_count`` ``{"count": <unread in-app notifications>}`` after anything
  that changes it (new notification, mark read, mark all read).

Email: a notification the user wants by email while they are not online is
stored ``email_status="pending"`` with ``email_due_at`` = now +
``NOTIFY_EMAIL_BATCH_SECONDS``: PostgreSQL remembers that an email is owed and
when. After commit, ``schedule_email`` claims the Redis key
``t:<tenant>:notify:batch:<user>:<group>`` (SET NX) and, only when it got it,
queues ``tasks.send_notification_email`` to run at that time. When it runs, that
job sends one email with every notification of the group still pending (a burst
of messages in one conversation -> one email) and marks them sent in the same
transaction as the email row, so running it twice sends nothing twice.

Redis is only the fast path: a delayed job lost with Redis (a crash, a flush) or
never queued (Redis down at commit) is found by ``tasks.enqueue_overdue_emails``,
the worker's sweep, once ``email_due_at`` is ``NOTIFY_EMAIL_SWEEP_GRACE_SECONDS``
past; it claims the rows (moves ``email_due_at`` to its "now") and queues the
same job.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
import sqlalchemy as sa
from flask import current_app
from rq import Retry
from sqlalchemy import orm
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.accounts.models import User
from app.core import pagination
from app.core.after_commit import on_commit
from app.core.domain_errors import DomainError
from app.core.urls import path_for
from app.extensions import get_queue, redis_store
from app.messaging import services as messaging
from app.notifications.kinds import CATEGORIES, KINDS, Kind, get_kind
from app.notifications.models import Notification, NotificationPreference
from app.realtime import emit_to_user, is_online
from tenants.db import current_tenant, db

log = logging.getLogger(__name__)

MAX_DATA_CHARS = 4000  # JSON size of a notification's data
MAX_URL_LENGTH = 500
MAX_IDS_PER_CALL = 500


class NotificationError(DomainError):
    """Refused input. ``message`` is safe to show; ``code`` is stable; nothing was changed.

    The API answers ``errors.code`` and, for preferences, ``errors.preferences`` (kind -> problem).
    """

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None, errors=None):
        extra = {"preferences": dict(errors)} if errors else {}
        super().__init__(message, code=code, status=status, extra=extra)
        self.extra = {"code": self.code, **self.extra}


@dataclass(frozen=True)
class Preference:
    kind: str
    label: str
    category: str
    in_app: bool
    email: bool
    is_default: bool


def _now() -> datetime:
    return datetime.now(UTC)


def _int_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isdigit() and len(value) < 19:
        return int(value) or None
    return None


def _valid_path(url: Any) -> str | None:
    """Only paths on the tenant's own host: a notification can never link elsewhere."""
    if url is None:
        return None
    if (
        not isinstance(url, str)
        or not url.startswith("/")
        or url.startswith("//")
        or "\\" in url
        or len(url) > MAX_URL_LENGTH
        or any(ch.isspace() or ord(ch) < 32 for ch in url)
    ):
        raise NotificationError(
            "The url must be a path on this marketplace (starting with '/').", code="bad_url"
        )
    return url


# --- preferences -------------------------------------------------------------------------


def _preference_rows(user_id: int) -> dict[str, NotificationPreference]:
    rows = db.session.scalars(
        sa.select(NotificationPreference).where(NotificationPreference.user_id == user_id)
    )
    return {row.kind: row for row in rows}


def _effective(kind: Kind, row: NotificationPreference | None) -> Preference:
    return Preference(
        kind=kind.name,
        label=kind.label,
        category=kind.category,
        in_app=row.in_app if row else kind.default_in_app,
        email=row.email if row else kind.default_email,
        is_default=row is None,
    )


def wants(user_id: int, kind: str) -> bool:
    """Whether user ``user_id`` wants ``kind`` in the app or by email (their choice or the default)."""
    spec = get_kind(kind)
    if spec is None:
        return False
    preference = _effective(spec, db.session.get(NotificationPreference, (user_id, kind)))
    return preference.in_app or preference.email


def get_preferences(user: User) -> list[Preference]:
    """Every kind with the user's effective choice (their own, or the kind's default)."""
    rows = _preference_rows(user.id)
    order = {category: i for i, (category, _label) in enumerate(CATEGORIES)}
    kinds = sorted(KINDS.values(), key=lambda k: order.get(k.category, len(order)))
    return [_effective(kind, rows.get(kind.name)) for kind in kinds]


def set_preferences(user: User, changes: Mapping[str, Mapping[str, Any]]) -> list[Preference]:
    """Change the user's choices: ``{kind: {"in_app": bool, "email": bool}}`` (flushes).

    A channel left out keeps its current value. Returns all preferences.
    Raises NotificationError (nothing changed) for an unknown kind or channel,
    or a value that is not a boolean.
    """
    if not isinstance(changes, Mapping):
        raise NotificationError("Preferences must map kinds to channels.")
    errors: dict[str, str] = {}
    for name, channels in changes.items():
        if get_kind(name) is None:
            errors[str(name)] = "Unknown kind of notification."
        elif not isinstance(channels, Mapping) or not channels:
            errors[name] = "Give in_app and/or email."
        elif set(channels) - {"in_app", "email"}:
            errors[name] = (
                f"Unknown channel(s): {', '.join(sorted(map(str, set(channels) - {'in_app', 'email'})))}."
            )
        elif not all(isinstance(v, bool) for v in channels.values()):
            errors[name] = "in_app and email must be true or false."
    if errors:
        raise NotificationError("Some preferences are invalid.", code="bad_preferences", errors=errors)
    current = {p.kind: p for p in get_preferences(user)}
    for name, channels in changes.items():
        in_app = channels.get("in_app", current[name].in_app)
        email = channels.get("email", current[name].email)
        statement = pg_insert(NotificationPreference).values(
            user_id=user.id, kind=name, in_app=in_app, email=email
        )
        db.session.execute(
            statement.on_conflict_do_update(
                index_elements=["user_id", "kind"],
                set_={"in_app": in_app, "email": email, "updated_at": sa.func.now()},
            )
        )
    db.session.flush()
    db.session.expire_all()
    return get_preferences(user)


# --- notify ------------------------------------------------------------------------------


def notify(
    user_id: int,
    kind: str,
    data: Mapping[str, Any] | None = None,
    *,
    url: str | None = None,
    dedupe_key: str | None = None,
) -> Notification | None:
    """Tell user ``user_id`` of the bound tenant that ``kind`` happened (flushes).

    ``data`` carries the IDs of what happened (see ``kinds.py`` for the keys
    each kind requires) plus optional display strings (``actor_name``,
    ``gig_title``, ``snippet``); the one-line text is rendered now and stored
    in ``data["text"]``. ``url`` is a path on this marketplace the
    notification links to. ``dedupe_key`` (e.g. ``"message:42"``) makes the
    call idempotent: a second call with the same key for the same user
    returns the stored notification and does nothing else.

    Following the user's preferences for ``kind``: stored in-app (pushed as
    ``notification`` + ``unread_count`` after commit), and/or marked for email
    when they are not online (one batched email per group, see module doc).
    Returns None when the user wants neither, or is no longer active.

    Raises NotificationError for an unknown kind or user, missing data keys,
    non-JSON data or a url that is not a local path. TenantNotBound without a
    bound tenant.
    """
    tenant = current_tenant()
    spec = get_kind(kind)
    if spec is None:
        raise NotificationError(f"Unknown kind of notification: {kind!r}.", code="unknown_kind")
    uid = _int_id(user_id)
    user = db.session.get(User, uid) if uid else None
    if user is None:
        raise NotificationError(f"No such user: {user_id!r}.", code="unknown_user", status=404)
    data = dict(data or {})
    missing = [key for key in spec.required if data.get(key) in (None, "")]
    if missing:
        raise NotificationError(f"{kind} needs {', '.join(missing)} in its data.", code="missing_data")
    url = _valid_path(url)
    if dedupe_key is not None and (not isinstance(dedupe_key, str) or not 0 < len(dedupe_key) <= 120):
        raise NotificationError("dedupe_key must be a string of 1 to 120 characters.", code="bad_dedupe_key")
    data.pop("text", None)
    try:
        data["text"] = spec.render(data)
        data = json.loads(json.dumps(data))
    except (TypeError, ValueError, KeyError) as exc:
        raise NotificationError(f"The data of {kind} is not usable: {exc}", code="bad_data") from None
    if len(json.dumps(data)) > MAX_DATA_CHARS:
        raise NotificationError("The notification data is too large.", code="bad_data")
    if not user.is_active:
        return None

    preference = _effective(spec, db.session.get(NotificationPreference, (user.id, kind)))
    if not (preference.in_app or preference.email):
        return None
    if not preference.email or not user.email:
        email_status = "none"
    elif is_online(tenant.id, user.id):
        email_status = "skipped"  # the live push reaches them
    else:
        email_status = "pending"

    created_at = _now()
    values = {
        "user_id": user.id,
        "kind": kind,
        "data": data,
        "url": url,
        "group_key": spec.group_key(data)[:80],
        "dedupe_key": dedupe_key,
        "in_app": preference.in_app,
        "email_status": email_status,
        "created_at": created_at,
        "email_due_at": (
            created_at + timedelta(seconds=max(0, int(current_app.config["NOTIFY_EMAIL_BATCH_SECONDS"])))
            if email_status == "pending"
            else None
        ),
    }
    statement = pg_insert(Notification).values(**values).returning(Notification.id)
    if dedupe_key is not None:
        statement = statement.on_conflict_do_nothing(
            index_elements=["user_id", "dedupe_key"], index_where=sa.text("dedupe_key IS NOT NULL")
        )
    new_id = db.session.execute(statement).scalar_one_or_none()
    if new_id is None:  # already notified for this dedupe_key
        return db.session.scalars(
            sa.select(Notification).where(
                Notification.user_id == user.id, Notification.dedupe_key == dedupe_key
            )
        ).one()
    notification = db.session.get(Notification, new_id)

    if notification.in_app:
        on_commit(_push_notification, tenant.id, user.id, serialize(notification), unread_count(user))
    if email_status == "pending":
        on_commit(schedule_email, tenant.id, user.id, notification.group_key)
    return notification


def serialize(notification: Notification) -> dict:
    """The JSON shape of a notification (API, socket push, dropdown)."""
    data = dict(notification.data or {})
    text = str(data.pop("text", ""))
    return {
        "id": notification.id,
        "kind": notification.kind,
        "text": text,
        "url": notification.url,
        "data": data,
        "read": notification.read_at is not None,
        "read_at": notification.read_at.isoformat() if notification.read_at else None,
        "created_at": notification.created_at.isoformat() if notification.created_at else None,
    }


def _push_notification(tenant_id: int, user_id: int, payload: dict, count: int) -> None:
    emit_to_user(tenant_id, user_id, "notification", payload)
    emit_to_user(tenant_id, user_id, "unread_count", {"count": count})


def _push_count(tenant_id: int, user_id: int, count: int) -> None:
    emit_to_user(tenant_id, user_id, "unread_count", {"count": count})


# --- reading -----------------------------------------------------------------------------


def _visible(user: User | sa.BindParameter):
    """A user's in-app notifications (``user``: or a bind parameter of their id, for a statement
    built once)."""
    user_id = user if isinstance(user, sa.BindParameter) else user.id
    return sa.and_(Notification.user_id == user_id, Notification.in_app.is_(True))


def list_notifications(
    user: User,
    page: int = 1,
    per_page: int | None = None,
    *,
    unread_only: bool = False,
    window: pagination.Window | None = None,
) -> tuple[list[Notification], int]:
    """One page of the user's in-app notifications, newest first, and the total count
    (from the API's cursor position and inside its created range when ``window`` is given).

    Raises NotificationError for a page or page size below 1.
    """
    per_page = per_page or current_app.config["NOTIFY_PAGE_SIZE"]
    if not isinstance(page, int) or page < 1 or not isinstance(per_page, int) or per_page < 1:
        raise NotificationError("page and per_page must be positive integers.", code="bad_page")
    condition = _visible(user)
    if unread_only:
        condition = sa.and_(condition, Notification.read_at.is_(None))
    condition = sa.and_(
        condition, *pagination.where(window, Notification.id, created=Notification.created_at)
    )
    total = db.session.scalar(sa.select(sa.func.count(Notification.id)).where(condition))
    rows = db.session.scalars(
        sa.select(Notification)
        .where(condition)
        .order_by(Notification.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return list(rows), total


def latest(user: User, limit: int | None = None) -> list[Notification]:
    """The newest notifications of the user (the bell's dropdown)."""
    # Not through list_notifications: the dropdown needs no total (one query, on every page).
    return list(
        db.session.scalars(
            sa.select(Notification)
            .where(_visible(user))
            .order_by(Notification.id.desc())
            .limit(limit or current_app.config["NOTIFY_DROPDOWN_SIZE"])
        )
    )


@dataclass(frozen=True)
class Header:
    """What a page's header shows of a signed-in user: the inbox's unread messages, the bell's
    unread notifications and the bell's dropdown (the newest notifications)."""

    inbox_unread: int
    notifications_unread: int
    notifications_latest: list[Notification]


def header(user: User, limit: int | None = None) -> Header:
    """The header's two counts and the bell's dropdown in one statement: both counts are
    uncorrelated scalar subqueries (evaluated once), beside the newest notifications joined to
    a one-row FROM so that a user without notifications still gets the counts. The statement
    is built once (``_header_statement``): every signed-in page sends it."""
    rows = db.session.execute(
        _header_statement(),
        {"user_id": user.id, "latest_limit": limit or current_app.config["NOTIFY_DROPDOWN_SIZE"]},
    ).all()
    return Header(
        inbox_unread=int(rows[0].inbox_unread or 0),
        notifications_unread=int(rows[0].notifications_unread or 0),
        notifications_latest=[row[2] for row in rows if row[2] is not None],
    )


@functools.cache
def _header_statement() -> sa.Select:
    """``header``'s select, with parameters ``user_id`` and ``latest_limit``."""
    user_id = sa.bindparam("user_id", type_=Notification.__table__.c.user_id.type)
    latest = (
        sa.select(Notification)
        .where(_visible(user_id))
        .order_by(Notification.id.desc())
        .limit(sa.bindparam("latest_limit", type_=sa.Integer))
        .subquery("latest")
    )
    notification = orm.aliased(Notification, latest)
    one_row = sa.select(sa.literal(1).label("one")).subquery("one_row")
    return (
        sa.select(
            messaging.unread_total_query(user_id).label("inbox_unread"),
            _unread_query(user_id).scalar_subquery().label("notifications_unread"),
            notification,
        )
        .select_from(one_row)
        .outerjoin(latest, sa.true())
        .order_by(latest.c.id.desc())
    )


def _unread_query(user: User | sa.BindParameter) -> sa.Select:
    return sa.select(sa.func.count(Notification.id)).where(_visible(user), Notification.read_at.is_(None))


def unread_count(user: User) -> int:
    """How many in-app notifications the user has not read (the bell's badge)."""
    return db.session.scalar(_unread_query(user))


def _parse_ids(ids: Any) -> list[int]:
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise NotificationError("ids must be a list of notification ids.", code="bad_ids")
    ids = list(ids)
    if not ids:
        raise NotificationError("Give at least one notification id.", code="bad_ids")
    if len(ids) > MAX_IDS_PER_CALL:
        raise NotificationError(f"At most {MAX_IDS_PER_CALL} ids per call.", code="bad_ids")
    parsed = [_int_id(value) for value in ids]
    if None in parsed:
        raise NotificationError("ids must be positive integers.", code="bad_ids")
    return sorted(set(parsed))


def mark_read(user: User, ids: Any) -> int:
    """Mark the user's notifications ``ids`` read (flushes); returns how many changed.

    Already-read ones stay as they were. Raises NotificationError (nothing
    changed) when ids is empty or malformed, or names a notification that is
    not the user's (the same answer as for one that does not exist).
    """
    wanted = _parse_ids(ids)
    found = set(
        db.session.scalars(sa.select(Notification.id).where(_visible(user), Notification.id.in_(wanted)))
    )
    unknown = [i for i in wanted if i not in found]
    if unknown:
        raise NotificationError(
            f"No such notification: {', '.join(map(str, unknown[:20]))}.",
            code="unknown_notification",
            status=404,
        )
    changed = db.session.execute(
        sa.update(Notification)
        .where(_visible(user), Notification.id.in_(wanted), Notification.read_at.is_(None))
        .values(read_at=_now())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire_all()
    if changed:
        on_commit(_push_count, current_tenant().id, user.id, unread_count(user))
    return changed


def mark_all_read(user: User) -> int:
    """Mark every unread notification of the user read (flushes); returns how many."""
    changed = db.session.execute(
        sa.update(Notification)
        .where(_visible(user), Notification.read_at.is_(None))
        .values(read_at=_now())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.expire_all()
    if changed:
        on_commit(_push_count, current_tenant().id, user.id, 0)
    return changed


# --- email batches -----------------------------------------------------------------------

# kind -> fn(user_id, notifications) -> ids the user has already seen elsewhere
# (e.g. messages read in the conversation): those are not emailed.
SEEN_CHECKS: dict[str, Callable[[int, list[Notification]], set[int]]] = {}


def register_seen_check(kind: str):
    def decorator(fn):
        SEEN_CHECKS[kind] = fn
        return fn

    return decorator


def batch_key(tenant_id: int, user_id: int, group_key: str) -> str:
    return f"t:{int(tenant_id)}:notify:batch:{int(user_id)}:{group_key}"


def schedule_email(tenant_id: int, user_id: int, group_key: str) -> bool:
    """Queue the email job of one batch unless one is already waiting; True when queued.

    Runs after commit. Redis failing here loses nothing: the rows are pending
    in PostgreSQL with their due time, and the worker's sweep
    (``tasks.enqueue_overdue_emails``) queues the job once it is overdue. The
    Redis key expires on its own (delay + grace) in case its job is lost.
    """
    from app.notifications.tasks import send_notification_email

    config = current_app.config
    delay = int(config["NOTIFY_EMAIL_BATCH_SECONDS"])
    key = batch_key(tenant_id, user_id, group_key)
    try:
        if not redis_store.client.set(
            key, b"1", nx=True, ex=max(delay, 0) + int(config["NOTIFY_EMAIL_BATCH_GRACE"])
        ):
            return False
    except redis.RedisError as exc:
        log.warning("email batch %s not scheduled (%s); left to the sweep", key, exc)
        return False
    intervals = config["MAIL_RETRY_INTERVALS"]
    options = {
        "retry": Retry(max=len(intervals), interval=intervals) if intervals else None,
        "job_timeout": 120,
        "description": f"notification email of user {user_id} ({group_key}) of tenant {tenant_id}",
    }
    queue = get_queue(config["NOTIFY_EMAIL_QUEUE"])
    try:
        if delay > 0:
            queue.enqueue_in(
                timedelta(seconds=delay), send_notification_email, tenant_id, user_id, group_key, **options
            )
        else:
            queue.enqueue(send_notification_email, tenant_id, user_id, group_key, **options)
    except redis.RedisError as exc:
        with suppress(redis.RedisError):
            redis_store.client.delete(key)  # let the next notification try again
        log.warning("email batch %s not scheduled (%s); left to the sweep", key, exc)
        return False
    return True


def enqueue_batch(tenant_id: int, user_id: int, group_key: str) -> None:
    """Queue the email job of one batch now (the sweep's path: its delayed job was lost)."""
    from app.notifications.tasks import send_notification_email

    config = current_app.config
    intervals = config["MAIL_RETRY_INTERVALS"]
    get_queue(config["NOTIFY_EMAIL_QUEUE"]).enqueue(
        send_notification_email,
        tenant_id,
        user_id,
        group_key,
        retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
        job_timeout=120,
        description=f"overdue notification email of user {user_id} ({group_key}) of tenant {tenant_id}",
    )


def _subject(notifications: list[Notification]) -> str:
    first, count = notifications[-1], len(notifications)
    actor = first.data.get("actor_name") or "someone"
    if all(n.kind == "new_message" for n in notifications):
        return f"New message from {actor}" if count == 1 else f"{count} new messages from {actor}"
    if all(n.kind in ("new_message", "mention") for n in notifications):
        if count == 1:
            return f"{actor} mentioned you"
        return f"{count} new messages from {actor}, mentioning you"
    if count == 1:
        return KINDS[first.kind].label
    if first.group_key.startswith("order:"):
        return f"{count} updates on order #{first.data.get('order_id')}"
    return f"{count} new notifications"


def send_pending_email(user_id: int, group_key: str) -> str:
    """Send one email with the user's pending notifications of ``group_key`` (flushes).

    Called by the job ``tasks.send_notification_email``, which commits. Rows
    are locked (``FOR UPDATE SKIP LOCKED``) and marked ``sent`` together with
    the email row, so a second run (retry, duplicate job) finds nothing.
    Notifications the user read meanwhile, or that they no longer want by
    email, are marked ``skipped``; if the user is online now, all are.
    Returns what happened.
    """
    from app.mail.services import send_email

    tenant = current_tenant()
    # Released first: a notification committed from now on schedules a batch of its own.
    with suppress(redis.RedisError):  # it expires on its own anyway
        redis_store.client.delete(batch_key(tenant.id, user_id, group_key))
    rows = db.session.scalars(
        sa.select(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.group_key == group_key,
            Notification.email_status == "pending",
        )
        .order_by(Notification.id)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return "nothing pending"
    user = db.session.get(User, user_id)
    reason = None
    if user is None or not user.is_active:
        reason = "user inactive"
    elif is_online(tenant.id, user_id):
        reason = "user online"
    if reason:
        for row in rows:
            row.email_status = "skipped"
        db.session.flush()
        return reason

    wanted = {p.kind for p in get_preferences(user) if p.email}
    seen: set[int] = set()
    for kind, check in SEEN_CHECKS.items():
        of_kind = [row for row in rows if row.kind == kind]
        if of_kind:
            seen |= check(user_id, of_kind)
    keep = []
    for row in rows:
        if row.read_at is not None or row.kind not in wanted or row.id in seen:
            row.email_status = "skipped"
        else:
            keep.append(row)
    if not keep:
        db.session.flush()
        return "nothing to send"

    subject = _subject(keep)
    leading = next((row for row in reversed(keep) if row.url), None)  # the newest with a link
    first_url = leading.url if leading else None
    action_label = "Open the conversation" if keep[0].kind in ("new_message", "mention") else "View"
    if leading is not None and KINDS[leading.kind].action_label:
        action_label = KINDS[leading.kind].action_label
    send_email(
        user.email,
        "notification_digest",
        subject,
        {
            "heading": subject,
            "display_name": user.display_name,
            "items": [{"text": row.text, "url": row.url} for row in keep],
            "action_path": first_url or path_for("notifications.index"),
            "action_label": action_label,
            "preferences_path": path_for("notifications.preferences"),
        },
        user_id=user.id,
    )
    now = _now()
    for row in keep:
        row.email_status = "sent"
        row.emailed_at = now
    db.session.flush()
    return f"sent {len(keep)}"
