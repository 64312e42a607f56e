"""Create tenants ``bench_NNNNN`` (host ``bench-NNNNN.localhost``) and time each one.

A creation is what django-tenants does on ``Client.save()``: ``CREATE SCHEMA`` and
``migrate_schemas`` for it, or, with ``--clone`` (settings ``TENANT_BASE_SCHEMA`` and
``TENANT_CREATION_FAKES_MIGRATIONS``, see ``PEER_BASE_SCHEMA``), a copy of the template schema
and faked migrations; then its primary domain and one category row (the row the one-row view
reads). The template schema is built first when missing (untimed; it is no tenant).
Prints one JSON line: ``{"seconds": [...], "tables": n, "tenants": n, "versions": {...}}``.
"""

import json
import time
from importlib.metadata import version

import django
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django_tenants.utils import schema_context, schema_exists
from marketplace.models import Categories

from customers.models import Client, Domain


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True)
        parser.add_argument("--start", type=int, help="first index (default: after the highest one)")
        parser.add_argument("--clone", action="store_true", help="clone the template schema")

    def handle(self, *args, count, start, clone, **options):
        self._ensure_public()
        if clone != bool(getattr(settings, "TENANT_CREATION_FAKES_MIGRATIONS", False)):
            raise CommandError("--clone goes with PEER_BASE_SCHEMA in the environment, and only with it")
        if clone:
            self._ensure_template(settings.TENANT_BASE_SCHEMA)
        if start is None:
            last = Client.objects.filter(schema_name__startswith="bench_").order_by("-schema_name").first()
            start = int(last.schema_name.removeprefix("bench_")) + 1 if last else 1
        seconds = []
        for index in range(start, start + count):
            started = time.perf_counter()
            tenant = Client(schema_name=f"bench_{index:05d}", name=f"Bench Marketplace {index}")
            tenant.save(verbosity=0)
            Domain.objects.create(domain=f"bench-{index:05d}.localhost", tenant=tenant, is_primary=True)
            with schema_context(tenant.schema_name):
                Categories.objects.create(c01=1, c02=f"Category of {index}")
            seconds.append(time.perf_counter() - started)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
                [f"bench_{start:05d}"],
            )
            tables = cursor.fetchone()[0]
        result = {
            "seconds": seconds,
            "first": start,
            "mode": "clone" if clone else "migrations",
            "tables": tables,
            "tenants": Client.objects.exclude(schema_name="public").count(),
            "versions": {"django": django.get_version(), "django-tenants": version("django-tenants")},
        }
        self.stdout.write(json.dumps(result))

    @staticmethod
    def _ensure_public() -> None:
        """The public tenant row django-tenants expects (its schema exists already)."""
        if not Client.objects.filter(schema_name="public").exists():
            Client(schema_name="public", name="Public").save(verbosity=0)

    @staticmethod
    def _ensure_template(schema: str) -> None:
        if schema_exists(schema):
            return
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{schema}"')
        call_command("migrate_schemas", schema_name=schema, tenant=True, interactive=False, verbosity=0)
        connection.set_schema_to_public()
