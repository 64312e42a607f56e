"""Home pages. "/" is the one URL both kinds of host serve, so one view picks.

An anonymous visitor's marketplace home page (no session cookie, no query string) is the same
page for everyone but its CSP nonce, and it is the page most requested: each process keeps the
rendered page, with a random mark where the nonce goes, and serves it with this response's
nonce in its place. It is reused while all of these are unchanged: the tenant and schema; the
home generation (``app.discovery.home``, bumped by every event that changes what the page
shows); the stamps of the per-tenant cached values (``app.core.tenant_cache``: branding and
categories, renewed at the change's commit); and ``shown_state`` (one statement: a gig paused
or edited, a seller suspended, a job closed a moment ago). At most ``ANONYMOUS_PAGE_TTL``
seconds in any case. Signed-in visitors, and anyone with a session (flashed messages live
there), get it rendered.
"""

from __future__ import annotations

import secrets
import threading
import time

from flask import Blueprint, current_app, g, render_template, request
from flask_login import current_user

from app.core import tenant_cache
from app.core.csp import csp_nonce
from app.discovery.home import cached_home, current_generation, home_sections, shown_state
from app.gigs.services import visible_category_nodes

# Served on tenant and platform hosts alike (tenant bound when there is one).
home_bp = Blueprint("home", __name__, template_folder="templates")

ANONYMOUS_PAGE_TTL = 30  # seconds; a gig paused meanwhile leaves it when its event is handled
ANONYMOUS_PAGES_MAX = 500  # pages kept per process (one per tenant in use)
_NONCE_MARK = secrets.token_urlsafe(24)  # per process: no content can carry it
_pages: dict[tuple, tuple[float, tuple, str]] = {}
_pages_lock = threading.Lock()


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
    generation = current_generation(g.tenant.id)
    stamps = tenant_cache.current_stamps()
    if generation is None or stamps is None:  # Redis is not answering, or a change is in flight
        return _render(home_sections(None), None)
    key = (g.tenant.id, g.tenant.schema, generation, stamps)
    state = shown_state(cached_home())
    now = time.monotonic()
    hit = _pages.get(key)
    if hit is None or hit[0] <= now or hit[1] != state:
        previous = g.pop("csp_nonce", None)
        g.csp_nonce = _NONCE_MARK
        try:
            page = _render(home_sections(None), None)
        finally:
            g.pop("csp_nonce", None)
            if previous:
                g.csp_nonce = previous
        with _pages_lock:
            if len(_pages) >= ANONYMOUS_PAGES_MAX and key not in _pages:
                _pages.pop(next(iter(_pages)))  # the oldest entry
            _pages[key] = hit = (now + ANONYMOUS_PAGE_TTL, state, page)
    return hit[2].replace(_NONCE_MARK, csp_nonce())


def forget_anonymous_pages() -> None:
    """Drop every page this process keeps (tests)."""
    with _pages_lock:
        _pages.clear()
