"""Socket.IO events of messaging (default namespace).

Connection: the tenant comes from the Host header (resolved like a request:
unknown or suspended hosts are refused); the user from the web session cookie
(same checks as Flask-Login's user loader) or ``auth={"token": <API access
token>}``. A refused connection gets ``connect_error``. On connect the socket
joins its user room and receives ``unread`` ``{"total"}``.

Client -> server (each may be sent with an ack callback; the ack gets
``{"ok": true, ...}`` or ``{"ok": false, "error": {...}}``):

- ``join`` ``{"conversation_id"}``: participants only;
- ``leave`` ``{"conversation_id"}``;
- ``send_message`` ``{"conversation_id", "body", "attachment_ids"?, "reply_to_id"?}``;
- ``typing`` ``{"conversation_id", "typing": bool}``: only in a joined conversation;
- ``read`` ``{"conversation_id", "message_id"?}``.

Server -> client: ``message`` (a stored message), ``typing``, ``read_receipt``,
``unread`` ``{"conversation_id"?, "unread"?, "total"}``, and ``error``
``{"event", "code", "message"}`` for anything refused (nothing is stored).

Each handler binds the socket's tenant for its own duration and closes the
database session after, like a request. A socket event is not a request, so the
request's unit of work does not cover it: ``_event_unit`` gives every event one
(``unit_of_work.job_unit``: commit once on success, roll back on a refusal or a crash).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from dataclasses import dataclass

from flask import current_app, request
from flask_login import current_user
from flask_socketio import join_room, leave_room, rooms

from app.accounts.models import User
from app.accounts.tokens import authenticate_bearer
from app.core import metrics, unit_of_work
from app.core.domain_errors import DomainError
from app.messaging import services
from app.realtime import conversation_room, mark_offline, mark_online, mark_online_many, socketio, user_room
from tenants.db import bind_tenant, db, unbind_tenant
from tenants.resolver import TENANT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SocketIdentity:
    """Who a socket is, cached at connect so hot events need not load the user."""

    tenant_id: int
    user_id: int
    display_name: str = ""


# Sockets connected to this process: sid -> identity. A sid only ever lives on
# the process that accepted it, so this needs no sharing.
_identities: dict[str, SocketIdentity] = {}
_identities_lock = threading.Lock()
_presence_started = threading.Event()


def _resolve_tenant():
    resolution = current_app.extensions["tenants"].resolve(request.host)
    if resolution.kind != TENANT or not resolution.tenant.is_active:
        return None
    return resolution.tenant


def _authenticate(auth) -> User | None:
    token = auth.get("token") if isinstance(auth, dict) else None
    if token is not None:
        if not isinstance(token, str):
            return None
        return authenticate_bearer(f"Bearer {token}")
    header = request.headers.get("Authorization")
    if header:
        return authenticate_bearer(header)
    user = current_user._get_current_object()  # the user loader checks the session's tenant
    return user if getattr(user, "is_authenticated", False) else None


def _presence_loop(app) -> None:
    """Refresh presence for this process's sockets well within the TTL."""
    interval = max(1, app.config.get("SOCKETIO_PRESENCE_TTL", 90) // 3)
    while True:
        socketio.sleep(interval)
        try:
            with app.app_context():
                with _identities_lock:
                    current = [(ident.tenant_id, ident.user_id, sid) for sid, ident in _identities.items()]
                mark_online_many(current)
        except Exception:
            log.exception("presence refresh failed")


@contextlib.contextmanager
def _event_unit(tenant):
    """One socket event's unit of work on ``tenant``: bound for the block, committed once when
    the block ends normally, rolled back when it raises; the session is closed after either."""
    token = bind_tenant(tenant)
    try:
        with unit_of_work.job_unit():
            yield
    finally:
        db.session.remove()
        unbind_tenant(token)


@socketio.on("connect")
def on_connect(auth=None):
    tenant = _resolve_tenant()
    if tenant is None:
        raise ConnectionRefusedError("unknown marketplace")
    try:
        with _event_unit(tenant):  # commits the token's bookkeeping (last_used_at), if any
            user = _authenticate(auth)
            if user is None or not user.is_active:
                raise ConnectionRefusedError("authentication required")
            ident = SocketIdentity(tenant.id, user.id, user.display_name)
            with _identities_lock:
                _identities[request.sid] = ident
                metrics.socket_clients.inc()  # the gauge follows _identities: accepted sockets
            join_room(user_room(tenant.id, user.id))
            mark_online(tenant.id, user.id, request.sid)
            if not _presence_started.is_set():
                _presence_started.set()
                socketio.start_background_task(_presence_loop, current_app._get_current_object())
            socketio.emit("unread", {"total": services.unread_total(user)}, to=request.sid)
    except BaseException:
        _forget(request.sid)  # not connected after all (no disconnect will come for it)
        raise


def _forget(sid: str) -> SocketIdentity | None:
    with _identities_lock:
        ident = _identities.pop(sid, None)
        if ident is not None:
            metrics.socket_clients.dec()
    return ident


@socketio.on("disconnect")
def on_disconnect(*_reason):
    ident = _forget(request.sid)
    if ident is not None:
        mark_offline(ident.tenant_id, ident.user_id, request.sid)


def _error_reply(event: str, code: str, message: str) -> dict:
    """Tell the socket its event was refused: an ``error`` event, and the ack's answer."""
    error = {"event": event, "code": code, "message": message}
    socketio.emit("error", error, to=request.sid)
    return {"ok": False, "error": error}


def chat_event(name: str, *, load_user: bool = True):
    """Register ``fn(user, tenant, data) -> dict`` as the handler of socket event ``name``.

    The wrapper checks the socket's identity and the Host's tenant, validates that
    ``data`` is an object, runs the handler in one unit of work on the tenant
    (``_event_unit``) and turns refusals (``DomainError``) into an ``error`` event
    (and the ack). ``user`` is the User
    loaded fresh (and refused when inactive), or with ``load_user=False`` the
    socket's cached ``SocketIdentity``: the handler must then check what it
    needs itself (``send_message`` checks an active participant in its own
    statement; ``typing`` only relays to a room the socket joined as a
    participant). Broadcasts are sent after the database session is closed, so
    no pooled connection waits on Redis.
    """

    def decorator(fn):
        @functools.wraps(fn)
        def handler(data=None, *_extra):
            metrics.socket_messages.labels(name).inc()  # a registered name: a bounded set
            with _identities_lock:
                ident = _identities.get(request.sid)
            tenant = _resolve_tenant()
            if ident is None or tenant is None or tenant.id != ident.tenant_id:
                return _error_reply(name, "unauthenticated", "Not connected to this marketplace.")
            if not isinstance(data, dict):
                return _error_reply(name, "invalid", "The event data must be an object.")
            try:
                with _event_unit(tenant):
                    services.defer_broadcasts()
                    user = ident
                    if load_user:
                        user = db.session.get(User, ident.user_id)
                        if user is None or not user.is_active:
                            raise services.MessagingError(
                                "Your account cannot use chat.", code="unauthenticated"
                            )
                    result = fn(user, tenant, data)
                    # Taken inside the unit (the session and its info close with it); sent
                    # below, once the unit has committed.
                    broadcasts = services.take_deferred_broadcasts()
            except DomainError as exc:
                return _error_reply(name, exc.code, exc.message)
            except Exception:
                log.exception("socket event %s failed", name)
                return _error_reply(name, "server_error", "Something went wrong; try again.")
            try:
                services.send_deferred_broadcasts(broadcasts)
            except Exception:
                log.exception("broadcast after socket event %s failed", name)
            return {"ok": True, **(result or {})}

        socketio.on(name)(handler)
        return handler

    return decorator


@chat_event("join")
def on_join(user, tenant, data):
    participant = services.participant_of(user, data.get("conversation_id"))
    join_room(conversation_room(tenant.id, participant.conversation_id))
    return {"conversation_id": participant.conversation_id, "unread": participant.unread_count}


@chat_event("leave")
def on_leave(user, tenant, data):
    cid = services.parse_id(data.get("conversation_id"))
    if cid is not None:
        leave_room(conversation_room(tenant.id, cid))
    return {}


@chat_event("send_message", load_user=False)
def on_send_message(ident, tenant, data):
    message = services.send_message(
        tenant.id,
        ident.user_id,
        data.get("conversation_id"),
        data.get("body"),
        data.get("attachment_ids"),
        data.get("reply_to_id"),
    )
    return {"message": message}


@chat_event("typing", load_user=False)
def on_typing(ident, tenant, data):
    cid = services.parse_id(data.get("conversation_id"))
    room = conversation_room(tenant.id, cid) if cid else None
    # Joining proved participation; typing is too frequent to ask the database each time.
    if room is None or room not in rooms():
        raise services.MessagingError("Join the conversation first.", code="not_joined")
    payload = {
        "conversation_id": cid,
        "user_id": ident.user_id,
        "display_name": ident.display_name,
        "typing": bool(data.get("typing", True)),
    }
    socketio.emit("typing", payload, to=room, skip_sid=request.sid)
    return {}


@chat_event("read")
def on_read(user, tenant, data):
    participant = services.mark_read(user, data.get("conversation_id"), data.get("message_id"))
    return {"unread": participant.unread_count}
