"""Notification texts (and the emails made of them) keep a gig title's capitals."""

from __future__ import annotations

from app.notifications.kinds import KINDS


def test_order_texts_keep_the_gig_titles_capitals():
    data = {"order_id": 7, "gig_title": "I will build a WordPress website (Basic)", "actor_name": "Ada"}
    assert KINDS["order_paid"].render(data) == "Order #7 (I will build a WordPress website (Basic)) was paid."
    assert KINDS["order_completed"].render(data).startswith("Order #7 (I will build a WordPress")
