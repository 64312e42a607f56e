"""``flask storage register-existing [--tenant SLUG]``: the upgrade step of the antivirus.

Files stored before the antivirus (before tenant migration t0034) have no ``StoredFile`` row,
and ``/files/`` serves nothing without one (fail closed). This walks each tenant's stored
files, registers those without a row (``pending`` with ``UPLOAD_SCANNER=clamd``, their scans
queued after each batch commits; ``clean`` with ``none``). Safe to run again: registered files
are skipped. See docs/operator/uploads.md.
"""

from __future__ import annotations

import time

import click
from flask.cli import with_appcontext

from app.core.cli import tenant_refs
from app.storage import files, get_storage
from tenants.db import db, tenant_context

storage_cli = click.Group("storage", help="Stored files and their antivirus scans.")

BATCH = 200  # files per transaction


@storage_cli.command("register-existing")
@click.option("--tenant", "slug", default=None, help="Only this tenant (slug); default: every active one.")
@with_appcontext
def register_existing_command(slug):
    """Register (and queue scans of) the files stored before the antivirus."""
    backend = get_storage()
    started = time.perf_counter()
    registered = 0
    refs = tenant_refs(slug)
    for ref in refs:
        with tenant_context(ref):
            keys = list(files.unregistered_keys(backend))
            count = 0
            with click.progressbar(keys, label=f"{ref.slug}: {len(keys):,} file(s)", show_pos=True) as bar:
                for key in bar:
                    try:
                        files.register_existing(backend, key)
                    except files.StorageNotFound:
                        continue  # deleted meanwhile
                    count += 1
                    if count % BATCH == 0:
                        db.session.commit()  # per batch, on purpose: a long walk keeps what it did
            db.session.commit()
        registered += count
        click.echo(f"{ref.slug}: {count:,} file(s) registered")
    click.echo(
        f"{registered:,} file(s) registered in {len(refs)} tenant(s) in {time.perf_counter() - started:.2f}s"
    )
