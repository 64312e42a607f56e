"""Console page "Quarantine" (``/console/quarantine``): the files the antivirus blocked, newest
first (name, type, size, uploader, where it was uploaded, what the scanner found, when), and
"Delete permanently" (admins: the bytes and the row go, audited as ``file.delete``).

Moderators may look (they follow up with the uploader); deleting is an admin's. Thin: the reads
are app/storage/files.py's, the delete is ``actions.delete_quarantined``.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for

from app.accounts.models import User
from app.console.access import ADMIN, MODERATOR, console_required, console_user, has_console_role
from app.console.blueprints import bp
from app.console.files import actions
from app.core.forms import Form
from app.storage import files
from tenants.db import db

PER_PAGE = 50
MAX_ID = "int(max=9223372036854775807)"


class DeleteFileForm(Form):
    """The "Delete permanently" button: only the CSRF token."""


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 6 and int(raw) > 0 else 1


@bp.get("/quarantine", endpoint="quarantine")
@console_required(MODERATOR)
def quarantine_page():
    page = _page_arg()
    rows, total = files.quarantined_files(page, PER_PAGE)
    uploader_ids = {row.uploaded_by_id for row in rows if row.uploaded_by_id is not None}
    uploaders = (
        {user.id: user for user in db.session.scalars(sa.select(User).where(User.id.in_(uploader_ids)))}
        if uploader_ids
        else {}
    )
    return render_template(
        "console/quarantine.html",
        rows=rows,
        uploaders=uploaders,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        can_delete=has_console_role(console_user(), ADMIN),
        delete_form=DeleteFileForm(formdata=None),
    )


@bp.post(f"/quarantine/<{MAX_ID}:file_id>/delete", endpoint="delete_quarantined_file")
@console_required(ADMIN)
def delete_quarantined_file(file_id: int):
    DeleteFileForm().validate_on_submit() or abort(400)
    name = actions.delete_quarantined(console_user(), file_id)
    flash(f"“{name}” was deleted permanently.", "success")
    return redirect(url_for("console.quarantine"), 303)
