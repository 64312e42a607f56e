"""Live board updates over Socket.IO: the other party sees a move; a stranger and another
tenant's member with equal ids cannot join, and hear nothing."""

from __future__ import annotations

from tenants.db import db
from tests.helpers import ChatClient, close_all
from tests.workroom.conftest import user


def test_the_other_party_sees_a_move_live_and_strangers_do_not(
    acme, globex, room, in_tenant, socket_server, access_token
):
    from app.workroom import board

    a, g = room(acme), room(globex)
    clients = []

    def connect(tenant, user_id):
        client = ChatClient(socket_server, tenant.slug, token=access_token(tenant, user_id)).connect()
        clients.append(client)
        return client

    try:
        ann = connect(acme, a.ann)
        bob = connect(acme, a.bob)
        other = connect(globex, g.client)  # equal ids in globex
        assert ann.call("join_workroom", {"contract_id": a.contract_id})["ok"]
        refused = bob.call("join_workroom", {"contract_id": a.contract_id})
        assert refused["ok"] is False and refused["error"]["code"] == "contract_not_found"
        assert other.call("join_workroom", {"contract_id": g.contract_id})["ok"]  # their own contract

        with in_tenant(acme):
            first = board.create_task(user(a.client), a.contract_id, {"title": "One"})
            second = board.create_task(user(a.client), a.contract_id, {"title": "Two"})
            db.session.commit()
            board.move_task(user(a.client), a.contract_id, second.id, "doing")
            db.session.commit()
            ids = (first.id, second.id)
        got = ann.wait_for("task", lambda d: d["action"] == "moved")
        assert got["task"]["id"] == ids[1] and got["columns"] == {"todo": [ids[0]], "doing": [ids[1]]}
        assert got["actor_id"] == a.client
        assert not bob.of("task")
        assert not other.of("task")
    finally:
        close_all(clients)
