"""docs/examples/order_and_pay.py, run as a partner runs it: a subprocess talking HTTP to a live
server of the app, signing in, searching, ordering and paying through the API alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from app.ledger import services as ledger
from app.orders.models import Order
from tenants.db import db

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "examples" / "order_and_pay.py"


def run_example(live_server, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT)],
        env={
            "PATH": os.environ.get("PATH", ""),
            "GIGFORGE_URL": f"http://127.0.0.1:{live_server.port}",
            "GIGFORGE_HOST": f"acme.localhost:{live_server.port}",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_example_orders_and_pays_through_the_api(acme, market, live_server, in_tenant):
    m = market(acme)
    done = run_example(
        live_server,
        GIGFORGE_EMAIL=m.buyer_email,
        GIGFORGE_PASSWORD="correct-horse-battery",
        GIGFORGE_QUERY="logo",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "awaiting_requirements" in done.stdout
    with in_tenant(acme):
        order = db.session.scalars(sa.select(Order).where(Order.buyer_id == m.buyer_id)).one()
        assert order.status == "awaiting_requirements" and order.paid_at is not None
        assert ledger.escrow_balance(order.id, order.currency) == order.total_minor
        assert ledger.verify().ok


def test_the_example_says_why_when_it_cannot_sign_in(acme, market, live_server, in_tenant):
    m = market(acme)
    done = run_example(live_server, GIGFORGE_EMAIL=m.buyer_email, GIGFORGE_PASSWORD="wrong-password")
    assert done.returncode != 0 and "401" in done.stderr
    with in_tenant(acme):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0
