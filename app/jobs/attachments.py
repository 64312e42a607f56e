"""Files attached to jobs (specs, mockups, datasets) and to proposals: what may be attached,
how it is stored, and who gets a download URL.

The verbs (who may add or remove, in which state) are the services':
``services.add_job_attachments`` / ``remove_job_attachment`` (the client, job draft or open;
also ``post_job(files=...)``) and ``proposals.add_proposal_attachments`` /
``remove_proposal_attachment`` (the freelancer, proposal editable and job open; also
``submit_proposal(files=...)``). This module is what they share:

- **Types** (``ATTACHMENT_TYPES``): PDF, PNG, JPEG, GIF, WebP, ZIP, CSV, text, Markdown, Word
  (.docx) and Excel (.xlsx), each checked by its content (``app.storage.uploads``: magic
  bytes where the format has a signature, UTF-8 text for the text formats).
- **Sizes**: ``JOB_ATTACHMENT_MAX_BYTES`` per file (config, 20 MB by default).
- **Counts**: at most ``MAX_JOB_ATTACHMENTS`` (10) per job and ``MAX_PROPOSAL_ATTACHMENTS`` (5)
  per proposal, counting those already attached.
- **Nothing stored on refusal**: ``check_files`` checks every file of a request before
  ``store`` writes any, and the services call ``store`` after their own checks.
- **Downloads**: signed URLs of the tenant's storage (``url``), valid ``URL_SECONDS``, named
  after the uploader's filename and served only on the tenant's own host. They are only put
  in pages and API answers for people who may download: job attachments for whoever may view
  the job (``services.can_view``), proposal attachments for the freelancer and the job's
  client (``proposals.get_proposal``). A removed file is deleted once the removal commits,
  so its old URLs stop working.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from flask import current_app

from app.core.domain_errors import DomainError
from app.jobs.models import JobAttachment
from app.storage import delete_after_commit, storage
from app.storage.uploads import (
    DOCUMENT_TYPES,
    Upload,
    UploadRefused,
    accept_attribute,
    allowed_labels,
    check_upload,
    human_size,
)

ATTACHMENT_TYPES = DOCUMENT_TYPES
FIELD = "files"
URL_SECONDS = 3600
NAMESPACE = {"job": "jobs/attachments", "proposal": "jobs/proposal-attachments"}


class AttachmentError(DomainError):
    """A refused file or set of files (422, field ``files``). ``code`` (also ``errors.code`` in
    the API): ``forbidden_type``, ``too_large``, ``empty_file``, ``too_many_files``."""

    code = "attachment_invalid"
    location = "files"

    def __init__(self, message: str, *, code: str):
        super().__init__(message, {FIELD: message}, code=code, extra={"code": code})


def max_bytes() -> int:
    return int(current_app.config["JOB_ATTACHMENT_MAX_BYTES"])


def hint(limit_files: int) -> str:
    """What the file inputs say they take."""
    return (
        f"Up to {limit_files} files of at most {human_size(max_bytes())} each: "
        f"{allowed_labels(ATTACHMENT_TYPES)}."
    )


def accept() -> str:
    """The file inputs' ``accept`` attribute."""
    return accept_attribute(ATTACHMENT_TYPES)


def check_files(files: Iterable[Upload], *, existing: int, limit: int) -> list[Upload]:
    """Every file checked (type by content, size) and the count with the ``existing`` ones
    within ``limit``; returns them with resolved types and clean names. Stores nothing.
    Raises AttachmentError (the first problem found, naming the file)."""
    files = list(files)
    if existing + len(files) > limit:
        room = max(0, limit - existing)
        already = f" ({existing} attached already)" if existing else ""
        raise AttachmentError(
            f"At most {limit} files can be attached{already}: "
            + (f"add at most {room} more." if room else "remove one first."),
            code="too_many_files",
        )
    checked = []
    for upload in files:
        try:
            checked.append(
                check_upload(
                    upload,
                    allowed=ATTACHMENT_TYPES,
                    max_bytes=max_bytes(),
                    name_in_message=True,
                )
            )
        except UploadRefused as exc:
            raise AttachmentError(exc.message, code=exc.code) from None
    return checked


def store(checked: Sequence[Upload], *, owner: str, uploader_id: int, now: datetime) -> list[JobAttachment]:
    """Save checked files in the tenant's storage; returns their rows (not yet in the session)
    for the caller to append to ``job.attachments`` or ``proposal.attachments``."""
    rows = []
    for upload in checked:
        key = storage.save(
            upload.data,
            namespace=NAMESPACE[owner],
            filename=upload.filename,
            content_type=upload.content_type,
        )
        rows.append(
            JobAttachment(
                uploader_id=uploader_id,
                storage_key=key,
                filename=upload.filename,
                content_type=upload.content_type,
                size=upload.size,
                created_at=now,
            )
        )
    return rows


def find(attachments: Iterable[JobAttachment], attachment_id: int) -> JobAttachment | None:
    return next((a for a in attachments if a.id == attachment_id), None)


def forget(attachment: JobAttachment) -> None:
    """The file goes once the row's removal commits (a rolled-back removal keeps it)."""
    delete_after_commit(attachment.storage_key)


def url(attachment: JobAttachment) -> str:
    """A signed download URL (``URL_SECONDS``), for the bound tenant's host only. Callers give it
    only to people who may download (see the module's docstring)."""
    return storage.url(attachment.storage_key, expires_in=URL_SECONDS, download_name=attachment.filename)
