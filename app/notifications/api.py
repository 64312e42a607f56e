"""Notifications REST API (bearer tokens): the list, read marks, preferences.

Live updates come over Socket.IO on the same connection as messaging: the
server emits ``notification`` (one new notification, the shape below) and
``unread_count`` ``{"count"}`` to every socket of the user.

Examples::

    GET /api/v1/notifications?page=1&page_size=20&unread=true
    200 [{"id": 31, "kind": "new_message", "text": "Ada Lovelace: Could you ...",
          "url": "/inbox/12", "data": {"conversation_id": 12, ...}, "read": false, ...}]
        X-Pagination: {"total": 41, "total_pages": 3, "first_page": 1, "last_page": 3, "page": 1, ...}

    POST /api/v1/notifications/read  {"ids": [31, 30]}   (or {"all": true})
    200 {"marked": 2, "unread_count": 3}
    404 when an id is not one of your notifications (nothing is marked)

    PUT /api/v1/notifications/preferences  {"preferences": [{"kind": "new_message", "email": false}]}
    200 {"preferences": [{"kind": "new_message", "label": "New messages", "in_app": true,
                          "email": false, "is_default": false, ...}, ...]}

Refusals (``NotificationError``, a ``DomainError``) answer with a stable ``errors.code`` (and
``errors.preferences``: kind -> problem for bad preferences); the request's unit of work
commits or rolls back.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import g
from flask.views import MethodView

from app.accounts import tokens
from app.core.api import Blueprint
from app.notifications import services
from app.notifications.schemas import (
    NotificationListArgsSchema,
    NotificationPreferencesInputSchema,
    NotificationPreferencesSchema,
    NotificationReadInputSchema,
    NotificationReadResultSchema,
    NotificationSchema,
    NotificationUnreadCountSchema,
)

blp = Blueprint(
    "notifications_api",
    __name__,
    url_prefix="/api/v1/notifications",
    description="Notifications: your notification list, read marks and per-kind preferences "
    "(in-app and email). New notifications are also pushed over Socket.IO "
    "(`notification` and `unread_count` events).",
)


def auth_required(view):
    view = blp.alt_response(401, response="UNAUTHORIZED")(view)
    view = blp.doc(security=[{"bearerAuth": []}])(view)
    return tokens.token_auth_required(view)


@blp.route("")
class Notifications(MethodView):
    @auth_required
    @blp.arguments(NotificationListArgsSchema, location="query")
    @blp.response(200, NotificationSchema(many=True))
    @blp.paginate(page_size=20, max_page_size=100, keyset=("id",), created=True)
    def get(self, args, pagination_parameters):
        """Your notifications, newest first (paginated: `page`, `page_size`; `unread=true` for unread only).

        Example: `GET /api/v1/notifications?page=2&page_size=20`
        """
        rows, total = services.list_notifications(
            g.api_user,
            pagination_parameters.page,
            pagination_parameters.page_size,
            unread_only=args["unread"],
            window=pagination_parameters,
        )
        pagination_parameters.item_count = total
        return [services.serialize(row) for row in rows]


@blp.route("/unread")
class UnreadCount(MethodView):
    @auth_required
    @blp.response(200, NotificationUnreadCountSchema, example={"count": 3})
    def get(self):
        """How many of your notifications are unread (the bell's badge)."""
        return {"count": services.unread_count(g.api_user)}


@blp.route("/read")
class MarkRead(MethodView):
    @auth_required
    @blp.arguments(NotificationReadInputSchema, example={"ids": [31, 30]})
    @blp.response(200, NotificationReadResultSchema, example={"marked": 2, "unread_count": 3})
    @blp.alt_response(404, response="NOT_FOUND", description="An id is not one of your notifications.")
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def post(self, data):
        """Mark notifications read: `{"ids": [...]}` or `{"all": true}`.

        Marking is all or nothing: if any id is unknown (or someone else's)
        the answer is 404 and nothing changes. Marking a read one again is fine.
        """
        if data.get("all"):
            marked = services.mark_all_read(g.api_user)
        else:
            marked = services.mark_read(g.api_user, data["ids"])
        count = services.unread_count(g.api_user)
        return {"marked": marked, "unread_count": count}


@blp.route("/preferences")
class Preferences(MethodView):
    @auth_required
    @blp.response(200, NotificationPreferencesSchema)
    def get(self):
        """Your choice per kind of notification: in the app (bell, live push) and by email.

        Email goes out only while you are not online, at most one email per
        conversation (or order) every few minutes.
        """
        return {"preferences": [asdict(p) for p in services.get_preferences(g.api_user)]}

    @auth_required
    @blp.arguments(
        NotificationPreferencesInputSchema, example={"preferences": [{"kind": "new_message", "email": False}]}
    )
    @blp.response(200, NotificationPreferencesSchema)
    @blp.alt_response(422, response="UNPROCESSABLE_ENTITY")
    def put(self, data):
        """Change some of your preferences; kinds and channels left out keep their value.

        An unknown kind is refused with 422 and nothing changes.
        """
        changes: dict[str, dict] = {}
        for item in data["preferences"]:
            changes.setdefault(item["kind"], {}).update({k: v for k, v in item.items() if k != "kind"})
        preferences = services.set_preferences(g.api_user, changes)
        return {"preferences": [asdict(p) for p in preferences]}
