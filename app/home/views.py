"""Home pages. "/" is the one URL both kinds of host serve, so one view picks.

An anonymous visitor's marketplace home page (no session cookie, no query string) is the same
page for everyone but its CSP nonce, and it is the page most requested: each process keeps the
rendered page, with a random mark where the nonce goes, and serves it with this response's
nonce in its place. It is reused while the tenant, its schema and the stamps of its per-tenant
cached values (``app.core.tenant_cache``: branding, categories and the home generation, read in
one MGET) are unchanged. The home generation is renewed right after the commit of every change
the page shows (a gig paused or edited, a seller suspended, a job closed: ``app.discovery.events``),
by the committing process, so the next request of any process renders afresh; no statement is
sent for a kept page. At most ``ANONYMOUS_PAGE_TTL`` seconds in any case. Signed-in visitors,
and anyone with a session (flashed messages live there), get it rendered.

A page one process renders is shared with the others through Redis (``t:<tenant id>:<schema>:
home:page:<digest of the stamps>``, expiring with the page): a process that does not hold it
yet, on this node or another, takes it from there with one GET instead of rendering it again.
The stored page carries its own random mark and its expiry (wall-clock time, so every process
agrees on it).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time

import redis
from flask import Blueprint, current_app, g, render_template, request
from flask_login import current_user

from app.core import tenant_cache
from app.core.csp import csp_nonce
from app.discovery.home import home_sections
from app.extensions import redis_store
from app.gigs.services import visible_category_nodes

log = logging.getLogger(__name__)

# Served on tenant and platform hosts alike (tenant bound when there is one).
home_bp = Blueprint("home", __name__, template_folder="templates")

ANONYMOUS_PAGE_TTL = 30  # seconds; a change that published no event shows within it
# What the pages kept by one process may weigh together (characters of HTML, one page per tenant
# in use, ~10-40 KB each): 32 MiB keeps ~1,000-3,000 marketplaces' pages; past it the oldest
# go first and wait in Redis. A budget in bytes, not a count: marketplaces' pages differ in
# size tenfold, and what a process can spare is memory.
ANONYMOUS_PAGES_BYTES = 32 * 1024 * 1024
# A kept page: (expires at, its nonce mark, the page). The mark is random per render: no content
# can carry it.
_pages: dict[tuple, tuple[float, str, str]] = {}
_pages_size = 0  # the characters of every kept page
_pages_lock = threading.Lock()
_clock = time.time  # wall-clock: processes compare a shared page's expiry; tests move it


@home_bp.get("/")
def home():
    if g.tenant is None:
        return render_template("platform/home.html")
    if current_user.is_authenticated:
        me = current_user._get_current_object()
        return _render(home_sections(me), me)
    if request.args or current_app.config["SESSION_COOKIE_NAME"] in request.cookies:
        return _render(home_sections(None), None)
    return _anonymous_page()


def _render(sections, me) -> str:
    return render_template("home/marketplace.html", home=sections, categories=visible_category_nodes(), me=me)


def _anonymous_page() -> str:
    stamps = tenant_cache.current_stamps()  # the home generation among them
    if stamps is None:  # Redis is not answering, or a change is in flight
        return _render(home_sections(None), None)
    key = (g.tenant.id, g.tenant.schema, stamps)
    now = _clock()
    hit = _pages.get(key)
    if hit is None or hit[0] <= now:
        shared_key = _shared_key(key)
        hit = _shared_page(shared_key, now)
        if hit is None:
            hit = _render_kept(now)
            _share(shared_key, hit)
        _keep(key, hit)
    _expires, mark, page = hit
    return page.replace(mark, csp_nonce())


def _keep(key: tuple, kept: tuple[float, str, str]) -> None:
    """Keep ``kept`` under ``key``, dropping the oldest pages while the budget would be passed."""
    global _pages_size
    size = len(kept[2])
    with _pages_lock:
        previous = _pages.pop(key, None)
        if previous is not None:
            _pages_size -= len(previous[2])
        if size > ANONYMOUS_PAGES_BYTES:
            return  # never kept: it would push out every other page
        while _pages and _pages_size + size > ANONYMOUS_PAGES_BYTES:
            _pages_size -= len(_pages.pop(next(iter(_pages)))[2])  # the oldest entry
        _pages[key] = kept
        _pages_size += size


def kept_pages() -> tuple[int, int]:
    """(pages, characters) this process keeps (tests, diagnostics)."""
    with _pages_lock:
        return len(_pages), _pages_size


def _render_kept(now: float) -> tuple[float, str, str]:
    """The anonymous page rendered with a fresh random mark where the nonce goes."""
    mark = secrets.token_urlsafe(24)
    previous = g.pop("csp_nonce", None)
    g.csp_nonce = mark
    try:
        page = _render(home_sections(None), None)
    finally:
        g.pop("csp_nonce", None)
        if previous:
            g.csp_nonce = previous
    return now + ANONYMOUS_PAGE_TTL, mark, page


def _shared_key(key: tuple) -> str:
    tenant_id, schema, stamps = key
    digest = hashlib.sha256(b"\0".join(stamps)).hexdigest()[:32]
    return f"t:{tenant_id}:{schema}:home:page:{digest}"


def _shared_page(shared_key: str, now: float) -> tuple[float, str, str] | None:
    """The page another process rendered under these stamps, while it has not expired."""
    try:
        value = redis_store.client.get(shared_key)
    except redis.RedisError:
        return None
    if value is None:
        return None
    try:
        expires, mark, page = value.decode().split("\n", 2)
        kept = (float(expires), mark, page)
    except ValueError:  # not a page this code stored: render instead
        return None
    return kept if kept[0] > now else None


def _share(shared_key: str, kept: tuple[float, str, str]) -> None:
    expires, mark, page = kept
    try:
        redis_store.client.set(shared_key, f"{expires!r}\n{mark}\n{page}", ex=ANONYMOUS_PAGE_TTL)
    except redis.RedisError:  # kept by this process alone
        log.warning("home: could not share the anonymous page of tenant %s", g.tenant.slug)


def forget_anonymous_pages() -> None:
    """Drop every page this process keeps (tests)."""
    global _pages_size
    with _pages_lock:
        _pages.clear()
        _pages_size = 0
