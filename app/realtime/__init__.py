"""Real time for every domain: Flask-SocketIO with Redis as the message queue.

Rooms always carry the tenant, so equal IDs in two tenants never meet:

- ``user_room(tenant_id, user_id)`` -> ``"t<tenant>:u<user>"``: every socket of
  that user joins it on connect (each browser tab, each API client);
- ``conversation_room(tenant_id, conversation_id)`` -> ``"t<tenant>:c<id>"``:
  joined on request by participants only (``app/messaging/sockets.py``).

Emitting works from any process: ``emit_to_user`` / ``emit_to_room`` publish on
Redis (``SOCKETIO_CHANNEL``); every web process listening on that channel
delivers to its own connected sockets. A web process uses the app's
``socketio``; a process that serves no sockets (an RQ worker, a CLI command)
uses the write-only ``get_emitter()``, which only publishes.

Presence: each connected socket refreshes ``t:<tenant>:presence:<user>`` (a
Redis hash of socket id -> expiry) with a TTL; ``is_online`` is true while at
least one live socket of the user is recorded. A crashed process leaves entries
that expire after ``SOCKETIO_PRESENCE_TTL`` seconds. ``t:<tenant>:online`` (a sorted set of
user id -> expiry, refreshed with the hash) answers "who is online now" for search filters
(``online_user_ids``).

Production: async mode ``threading`` (simple-websocket), one gunicorn worker per
process with many threads (``--worker-class gthread --workers 1 --threads 100``),
several processes behind a load balancer with sticky sessions (only needed for
the long-polling fallback). See docs/realtime.md.
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

import socketio as python_socketio
from flask import current_app, has_app_context

from app.core import metrics
from app.extensions import REDIS_MAX_CONNECTIONS, redis_store, socketio
from tenants.resolver import TENANT

log = logging.getLogger(__name__)

__all__ = [
    "conversation_room",
    "emit_to_room",
    "emit_to_user",
    "get_emitter",
    "init_app",
    "is_online",
    "mark_offline",
    "mark_online",
    "mark_online_many",
    "online_user_ids",
    "socketio",
    "user_room",
]


def user_room(tenant_id: int, user_id: int) -> str:
    """The room every socket of one user joins (``t<tenant>:u<user>``)."""
    return f"t{int(tenant_id)}:u{int(user_id)}"


def conversation_room(tenant_id: int, conversation_id: int) -> str:
    """The room of one conversation's open views (``t<tenant>:c<conversation>``)."""
    return f"t{int(tenant_id)}:c{int(conversation_id)}"


def channel_for(redis_url: str, configured: str | None = None) -> str:
    """The pub/sub channel. Pub/sub ignores Redis database numbers, so the
    channel names the database: two deployments (or test sessions) sharing one
    Redis server on different databases never hear each other."""
    if configured:
        return configured
    parsed = urlsplit(redis_url)
    db_index = parse_qs(parsed.query).get("db", [None])[0] or parsed.path.strip("/") or "0"
    return f"gigforge-socketio:db{db_index}"


def _client_manager(app, *, write_only: bool) -> python_socketio.RedisManager:
    url = app.config["REDIS_URL"]
    return python_socketio.RedisManager(
        url,
        channel=channel_for(url, app.config.get("SOCKETIO_CHANNEL")),
        write_only=write_only,
        # Every thread or greenlet that emits publishes on this client's pool (see
        # app.extensions.REDIS_MAX_CONNECTIONS: past redis-py's default of 100 it failed and retried).
        redis_options={"max_connections": REDIS_MAX_CONNECTIONS},
    )


def async_mode(configured: str | None) -> str:
    """The Socket.IO async mode: the configured one, else ``gevent`` where gevent has patched
    the standard library (the ``realtime`` process, ``app.core.gunicorn_realtime``), else
    ``threading`` (the web process: gthread, a thread per socket). Never guessed from what is
    installed: gevent is installed everywhere, patched only in the realtime process."""
    if configured:
        return configured
    monkey = sys.modules.get("gevent.monkey")
    return "gevent" if monkey is not None and monkey.is_module_patched("socket") else "threading"


def init_app(app) -> None:
    """Bind the app's ``socketio`` (called by create_app)."""
    # RedisManager directly: Flask-SocketIO would pick Kombu for a unix:// URL
    # (the embedded Redis), and this way the channel carries the database.
    socketio.init_app(
        app,
        async_mode=async_mode(app.config.get("SOCKETIO_ASYNC_MODE")),
        client_manager=_client_manager(app, write_only=False),
        # A browser's socket may only come from the marketplace it connects to (see
        # origin_allowed); an empty list would switch engine.io's Origin check off.
        cors_allowed_origins=functools.partial(origin_allowed, app),
        ping_interval=app.config.get("SOCKETIO_PING_INTERVAL", 25),
        ping_timeout=app.config.get("SOCKETIO_PING_TIMEOUT", 20),
        max_http_buffer_size=app.config.get("SOCKETIO_MAX_PAYLOAD", 64 * 1024),
        logger=False,
        engineio_logger=False,
    )


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_allowed(app, origin: str | None, environ: dict) -> bool:
    """engine.io's Origin check: may a page of ``origin`` open a socket to this request's host?

    Only a page of the same marketplace, with the request's own scheme and port: the Origin's
    hostname must resolve to the tenant the Host resolves to (its verified domains and
    ``<slug>.<BASE_DOMAIN>``). Another marketplace's pages, foreign sites and the platform
    host are refused, so no page elsewhere can ride a member's session cookie into a socket.
    A request without an Origin (not a browser: an API client with its token) is not checked.
    The scheme may also be the first ``X-Forwarded-Proto`` (TLS ended at a proxy).
    """
    if not origin:
        return False
    try:
        parts = urlsplit(origin)
        origin_port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
        host_port = urlsplit("//" + environ.get("HTTP_HOST", "")).port
    except ValueError:
        return False
    schemes = {environ.get("wsgi.url_scheme", "http")}
    forwarded = environ.get("HTTP_X_FORWARDED_PROTO")
    if forwarded:
        schemes.add(forwarded.split(",")[0].strip().lower())
    if parts.scheme not in schemes or not parts.hostname:
        return False
    if origin_port != (host_port or _DEFAULT_PORTS.get(parts.scheme)):
        return False
    try:
        with app.app_context():
            resolver = app.extensions["tenants"]
            here = resolver.resolve(environ.get("HTTP_HOST"))
            if here.kind != TENANT:
                return False
            there = resolver.resolve(parts.hostname)
    except Exception:
        log.exception("socket origin check failed for %s", origin)
        return False
    return there.kind == TENANT and there.tenant.id == here.tenant.id


_emitters: dict[str, python_socketio.RedisManager] = {}
_emitters_lock = threading.Lock()


def get_emitter() -> python_socketio.RedisManager:
    """A write-only emitter for processes that serve no sockets (RQ workers).

    It publishes on the same Redis channel as the web processes; it cannot
    receive or join rooms. One per Redis URL per process.
    """
    app = current_app
    url = app.config["REDIS_URL"]
    with _emitters_lock:
        emitter = _emitters.get(url)
        if emitter is None:
            emitter = _emitters[url] = _client_manager(app, write_only=True)
    return emitter


def _serving_sockets() -> bool:
    """True in a process whose socketio server has started handling connections."""
    server = getattr(socketio, "server", None)
    return bool(server is not None and getattr(server, "manager_initialized", False))


def emit_to_room(room: str, event: str, data) -> None:
    """Publish ``event`` to every socket in ``room``, on every web process."""
    started = time.perf_counter()
    try:
        if _serving_sockets():
            socketio.emit(event, data, to=room)
        else:
            get_emitter().emit(event, data, room=room, namespace="/")
    finally:
        metrics.socket_emit.observe(time.perf_counter() - started)


def emit_to_user(tenant_id: int, user_id: int, event: str, data) -> None:
    """Send ``event`` to every open socket of one user of one tenant.

    Works in web and worker processes (through Redis). Nothing happens when the
    user has no socket open; use ``is_online`` to decide on a fallback (email).
    """
    emit_to_room(user_room(tenant_id, user_id), event, data)


# --- presence ---------------------------------------------------------------------------


def _presence_key(tenant_id: int, user_id: int) -> str:
    return f"t:{int(tenant_id)}:presence:{int(user_id)}"


def _online_key(tenant_id: int) -> str:
    """The tenant's sorted set of users with a live socket (score: when their presence expires),
    for "online now" in search (``online_user_ids``)."""
    return f"t:{int(tenant_id)}:online"


def _ttl() -> int:
    return int(current_app.config.get("SOCKETIO_PRESENCE_TTL", 90))


def mark_online(tenant_id: int, user_id: int, sid: str) -> None:
    """Record one live socket of the user (at connect, then every TTL/3 by the process)."""
    ttl = _ttl()
    key = _presence_key(tenant_id, user_id)
    expires = int(time.time()) + ttl
    pipe = redis_store.client.pipeline()
    pipe.hset(key, sid, expires)
    pipe.expire(key, ttl)
    pipe.zadd(_online_key(tenant_id), {str(int(user_id)): expires})
    pipe.expire(_online_key(tenant_id), ttl)
    pipe.execute()


def mark_online_many(sockets: list[tuple[int, int, str]]) -> None:
    """``mark_online`` for many ``(tenant_id, user_id, sid)`` in one Redis round trip."""
    if not sockets:
        return
    ttl = _ttl()
    expires = int(time.time()) + ttl
    pipe = redis_store.client.pipeline(transaction=False)
    for tenant_id, user_id, sid in sockets:
        key = _presence_key(tenant_id, user_id)
        pipe.hset(key, sid, expires)
        pipe.expire(key, ttl)
        pipe.zadd(_online_key(tenant_id), {str(int(user_id)): expires})
        pipe.expire(_online_key(tenant_id), ttl)
    pipe.execute()


def mark_offline(tenant_id: int, user_id: int, sid: str) -> None:
    client = redis_store.client
    key = _presence_key(tenant_id, user_id)
    client.hdel(key, sid)
    if not is_online(tenant_id, user_id):
        # The last socket closed (a socket opening meanwhile re-adds the user within TTL/3).
        client.zrem(_online_key(tenant_id), str(int(user_id)))


def online_user_ids(tenant_id: int) -> set[int]:
    """Every user of the tenant with a live socket right now (any web process)."""
    client = redis_store.client
    key = _online_key(tenant_id)
    now = int(time.time())
    pipe = client.pipeline()
    pipe.zremrangebyscore(key, "-inf", now)
    pipe.zrange(key, 0, -1)
    _removed, members = pipe.execute()
    return {int(member) for member in members}


def is_online(tenant_id: int, user_id: int) -> bool:
    """True while the user has at least one socket open (on any web process)."""
    if not has_app_context():
        raise RuntimeError("is_online needs an app context (for the app's Redis)")
    key = _presence_key(tenant_id, user_id)
    entries = redis_store.client.hgetall(key)
    now = time.time()
    live = False
    stale = []
    for sid, expires in entries.items():
        if int(expires) > now:
            live = True
        else:
            stale.append(sid)
    if stale:
        redis_store.client.hdel(key, *stale)
    return live
