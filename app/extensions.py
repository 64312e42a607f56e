"""Extensions, created unbound; ``create_app`` binds them."""

from __future__ import annotations

import redis
from flask import current_app
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_wtf import CSRFProtect
from rq import Queue

from tenants.db import db

__all__ = ["db", "migrate", "api", "csrf", "login_manager", "redis_store", "get_queue"]

migrate = Migrate()
api = Api()
csrf = CSRFProtect()
login_manager = LoginManager()


class RedisStore:
    """One Redis client per app (bytes in, bytes out: RQ needs that)."""

    def init_app(self, app):
        app.extensions["redis"] = redis.Redis.from_url(app.config["REDIS_URL"])

    @property
    def client(self) -> redis.Redis:
        return current_app.extensions["redis"]


redis_store = RedisStore()


def get_queue(name: str | None = None) -> Queue:
    name = name or current_app.config["EVENT_QUEUE"]
    return Queue(name, connection=redis_store.client, is_async=current_app.config["RQ_ASYNC"])
