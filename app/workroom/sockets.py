"""Socket.IO events of the workroom (default namespace; the connection, identity and unit of
work are messaging's: ``app.messaging.sockets.chat_event``).

Client -> server (with an ack callback: ``{"ok": true, ...}`` or ``{"ok": false, "error"}``):

- ``join_workroom`` ``{"contract_id"}``: the contract's two parties only (its workroom open),
  joins ``t<tenant>:k<contract>``;
- ``leave_workroom`` ``{"contract_id"}``.

Server -> client, in that room: ``task`` (see ``app.workroom.board``), sent after the change
commits.
"""

from __future__ import annotations

from flask_socketio import join_room, leave_room

from app.core.ids import parse_id
from app.messaging.sockets import chat_event
from app.workroom import services
from app.workroom.board import contract_room


@chat_event("join_workroom")
def on_join_workroom(user, tenant, data):
    contract = services.open_workroom(user, data.get("contract_id"))
    join_room(contract_room(tenant.id, contract.id))
    return {"contract_id": contract.id}


@chat_event("leave_workroom")
def on_leave_workroom(user, tenant, data):
    cid = parse_id(data.get("contract_id"))
    if cid is not None:
        leave_room(contract_room(tenant.id, cid))
    return {}
