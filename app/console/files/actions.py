"""Console actions on quarantined files: each calls the storage's rule and writes the audit entry
in the same transaction (the request's unit of work commits both, or rolls both back).

Audit action ``file.delete`` (target ``stored_file``, id: the file's row), with the file's name,
namespace, size, sha256 and the signature the scanner found.
"""

from __future__ import annotations

from app.accounts.models import User
from app.console.audit import record_audit
from app.console.errors import ConsoleError
from app.storage import files, get_storage


def delete_quarantined(actor: User, file_id: int) -> str:
    """Delete a quarantined file permanently (bytes after commit, row now); returns its name.
    Raises ConsoleError (404) when the tenant has no such quarantined file."""
    row = files.get_quarantined(file_id)
    if row is None:
        raise ConsoleError("There is no such file in quarantine.", code="not_found", status=404)
    name = row.filename or row.key.rpartition("/")[2]
    record_audit(
        actor,
        "file.delete",
        "stored_file",
        row.id,
        f"Deleted quarantined file “{name}” ({row.signature})",
        {
            "filename": row.filename,
            "namespace": row.namespace,
            "size": row.size,
            "sha256": row.sha256,
            "signature": row.signature,
            "uploaded_by_id": row.uploaded_by_id,
        },
    )
    files.delete_quarantined(get_storage(), row)
    return name
