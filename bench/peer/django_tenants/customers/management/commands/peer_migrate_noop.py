"""Time ``migrate_schemas`` (public and every tenant schema) in this process.

Prints one JSON line: ``{"seconds": s, "executor": name, "schemas": n}``.
"""

import json
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand

from customers.models import Client


class Command(BaseCommand):
    help = __doc__.splitlines()[0]

    def add_arguments(self, parser):
        parser.add_argument("--executor", default="standard", choices=["standard", "multiprocessing"])

    def handle(self, *args, executor, **options):
        started = time.perf_counter()
        call_command("migrate_schemas", executor=executor, interactive=False, verbosity=0)
        seconds = time.perf_counter() - started
        schemas = Client.objects.count()
        self.stdout.write(json.dumps({"seconds": seconds, "executor": executor, "schemas": schemas}))
