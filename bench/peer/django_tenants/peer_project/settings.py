"""Settings of the django-tenants peer: the minimum django-tenants documents, nothing else.

The database comes from PEER_DB_* (set by bench/peer_compare.py). Connections persist
(CONN_MAX_AGE), as Gigforge's SQLAlchemy pool does, so the request comparison is not one
of connection set-up.
"""

import os

DEBUG = False
SECRET_KEY = os.environ.get("PEER_SECRET_KEY", "bench-peer-only")  # noqa: S105 - never deployed
ALLOWED_HOSTS = ["*"]
USE_TZ = True

# contenttypes: django-tenants imports it.
SHARED_APPS = ["django_tenants", "customers", "django.contrib.contenttypes"]
TENANT_APPS = ["marketplace"]
INSTALLED_APPS = SHARED_APPS + [app for app in TENANT_APPS if app not in SHARED_APPS]
TENANT_MODEL = "customers.Client"
TENANT_DOMAIN_MODEL = "customers.Domain"
# Unknown hosts (the readiness probe on 127.0.0.1) get the public URLconf.
SHOW_PUBLIC_IF_NO_TENANT_FOUND = True
PUBLIC_SCHEMA_URLCONF = "peer_project.urls_public"
ROOT_URLCONF = "peer_project.urls"
# django-tenants' faster creation, when asked for: clone a template schema, fake the migrations.
if os.environ.get("PEER_BASE_SCHEMA"):
    TENANT_BASE_SCHEMA = os.environ["PEER_BASE_SCHEMA"]
    TENANT_CREATION_FAKES_MIGRATIONS = True
TENANT_MULTIPROCESSING_MAX_PROCESSES = int(os.environ.get("PEER_MIGRATION_PROCESSES", "2"))

MIDDLEWARE = [
    "django_tenants.middleware.main.TenantMainMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]

DATABASES = {
    "default": {
        "ENGINE": "django_tenants.postgresql_backend",
        "NAME": os.environ.get("PEER_DB_NAME", "djt_bench_peer"),
        "USER": os.environ.get("PEER_DB_USER", "postgres"),
        "PASSWORD": os.environ.get("PEER_DB_PASSWORD", ""),
        "HOST": os.environ.get("PEER_DB_HOST", "127.0.0.1"),  # a directory: a Unix socket
        "PORT": os.environ.get("PEER_DB_PORT", ""),
        "CONN_MAX_AGE": 600,
    }
}
DATABASE_ROUTERS = ["django_tenants.routers.TenantSyncRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
