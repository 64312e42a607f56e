"""The Content-Security-Policy nonce of the current request."""

from __future__ import annotations

import secrets

from flask import g


def csp_nonce() -> str:
    """This request's nonce, made on first use: a request refused before the other before_request
    hooks ran (an unknown host's 404, a suspended tenant's 503) still gets a real one, never an
    empty ``'nonce-'`` that would block the error page's own style."""
    nonce = g.get("csp_nonce")
    if not nonce:
        nonce = g.csp_nonce = secrets.token_urlsafe(16)
    return nonce
