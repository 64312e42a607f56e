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
"""

from __future__ import annotations

import secrets
import threading
import time

from flask import Blueprint, current_app, g, render_template, request
from flask_login import current_user

from app.core import tenant_cache
from app.core.csp import csp_nonce
from app.discovery.home import home_sections
from app.gigs.services import visible_category_nodes

# Served on tenant and platform hosts alike (tenant bound when there is one).
home_bp = Blueprint("home", __name__, template_folder="templates")

ANONYMOUS_PAGE_TTL = 30  # seconds; a change that published no event shows within it
ANONYMOUS_PAGES_MAX = 500  # pages kept per process (one per tenant in use)
_NONCE_MARK = secrets.token_urlsafe(24)  # per process: no content can carry it
_pages: dict[tuple, tuple[float, str]] = {}
_pages_lock = threading.Lock()
_clock = time.monotonic  # tests move it


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
            _pages[key] = hit = (now + ANONYMOUS_PAGE_TTL, page)
    return hit[1].replace(_NONCE_MARK, csp_nonce())


def forget_anonymous_pages() -> None:
    """Drop every page this process keeps (tests)."""
    with _pages_lock:
        _pages.clear()
