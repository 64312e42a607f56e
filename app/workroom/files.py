"""Files of the workroom: what the parties upload here, and one list of everything shared in the
contract.

- **Uploads** (``upload_file``): checked by ``app.storage.uploads`` (``FILE_TYPES``: type by
  content, at most ``WORKROOM_FILE_MAX_BYTES`` each, default 25 MB), their SHA-256 computed
  from the bytes, stored under the tenant's ``workroom`` namespace; optionally about one
  milestone of the engagement. The uploader deletes their own (``delete_file``): the stored
  file goes once the deletion commits.
- **Everything shared** (``shared_files``): the workroom's files, the attachments of the
  contract's conversation (``app.messaging.order_attachments``) and the milestones' submitted
  files, grouped by milestone (None: not about one), each with uploader, size, type, the
  SHA-256 where it is known (workroom uploads) and a signed download URL (``URL_SECONDS``,
  bound to the tenant, named after the file).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.accounts.models import User
from app.contracts.models import Contract
from app.core.domain_errors import NotFound
from app.core.ids import parse_id
from app.messaging.order_attachments import attachments_of_order
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
from app.workroom import services
from app.workroom.models import WorkroomFile
from app.workroom.services import WorkroomError
from tenants.db import db

FILE_TYPES = DOCUMENT_TYPES
NAMESPACE = "workroom"
URL_SECONDS = 3600
MAX_FILES = 500  # per contract


class FileNotFound(NotFound):
    code = "file_not_found"


def max_bytes() -> int:
    return int(current_app.config.get("WORKROOM_FILE_MAX_BYTES", 25 * 1024 * 1024))


def hint() -> str:
    return f"At most {human_size(max_bytes())}: {allowed_labels(FILE_TYPES)}."


def accept() -> str:
    return accept_attribute(FILE_TYPES)


def upload_file(
    user: User,
    contract_id: Any,
    upload: Upload | None,
    *,
    milestone_id: Any = None,
    now: datetime | None = None,
) -> WorkroomFile:
    """Store a file in the workroom (flushes). Raises WorkroomError ``file`` (none given, a type
    not allowed or content not matching it, empty, too large; ``milestone_id`` not one of the
    contract's), ContractNotFound, WorkroomClosed."""
    contract = services.lock_workroom(user, contract_id, "upload files")
    if upload is None:
        raise WorkroomError({"file": "Choose a file to upload."})
    milestone = None
    if milestone_id not in (None, ""):
        milestone = parse_id(milestone_id)
        if milestone is None or milestone not in {m.id for m in services.milestones_of(contract)}:
            raise WorkroomError({"milestone_id": "No milestone of this contract with this id."})
    try:
        checked = check_upload(upload, allowed=FILE_TYPES, max_bytes=max_bytes())
    except UploadRefused as exc:
        raise WorkroomError({"file": exc.message}, code=exc.code, extra={"code": exc.code}) from None
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(WorkroomFile).where(WorkroomFile.contract_id == contract.id)
    )
    if count >= MAX_FILES:
        raise WorkroomError({"file": f"A workroom holds at most {MAX_FILES} files: delete some first."})
    key = storage.save(
        checked.data, namespace=NAMESPACE, filename=checked.filename, content_type=checked.content_type
    )
    row = WorkroomFile(
        contract_id=contract.id,
        milestone_id=milestone,
        uploader_id=user.id,
        storage_key=key,
        filename=checked.filename,
        content_type=checked.content_type,
        size=checked.size,
        sha256=hashlib.sha256(checked.data).hexdigest(),
        created_at=now or datetime.now(UTC),
    )
    db.session.add(row)
    db.session.flush()
    return row


def delete_file(user: User, contract_id: Any, file_id: Any) -> None:
    """The uploader deletes their file (flushes; the stored bytes go after commit). Raises
    FileNotFound (unknown, or another contract's), WorkroomError 403 (someone else's),
    WorkroomClosed."""
    contract = services.lock_workroom(user, contract_id, "delete files")
    fid = parse_id(file_id)
    row = db.session.get(WorkroomFile, fid) if fid else None
    if row is None or row.contract_id != contract.id:
        raise FileNotFound("This file does not exist.")
    if row.uploader_id != user.id:
        raise WorkroomError(
            "Only the person who uploaded a file deletes it.", status=403, code="not_uploader"
        )
    delete_after_commit(row.storage_key)
    db.session.delete(row)
    db.session.flush()


@dataclass(frozen=True)
class SharedFile:
    source: str  # workroom | message | submission
    id: str  # unique in the list: "<source>-<id>"
    filename: str
    content_type: str
    size: int
    sha256: str | None
    uploader_id: int | None
    milestone_id: int | None
    created_at: datetime | None
    url: str
    file_id: int | None = None  # a workroom file's id (the uploader may delete it)


def _url(key: str, filename: str) -> str:
    return storage.url(key, expires_in=URL_SECONDS, download_name=filename)


def shared_files(contract: Contract) -> list[SharedFile]:
    """Everything shared in the contract, newest first (see the module's docstring)."""
    out: list[SharedFile] = []
    rows = db.session.scalars(
        sa.select(WorkroomFile)
        .where(WorkroomFile.contract_id == contract.id)
        .order_by(WorkroomFile.id.desc())
    )
    for f in rows:
        out.append(
            SharedFile(
                "workroom",
                f"workroom-{f.id}",
                f.filename,
                f.content_type,
                f.size,
                f.sha256,
                f.uploader_id,
                f.milestone_id,
                f.created_at,
                _url(f.storage_key, f.filename),
                file_id=f.id,
            )
        )
    if contract.order_id is not None:
        for a in attachments_of_order(contract.order_id):
            out.append(
                SharedFile(
                    "message",
                    f"message-{a.id}",
                    a.filename,
                    a.content_type,
                    a.size,
                    None,
                    a.uploader_id,
                    None,
                    a.created_at,
                    _url(a.storage_key, a.filename),
                )
            )
    for m in services.milestones_of(contract):
        for i, f in enumerate(m.submission_files or []):
            if not isinstance(f, dict) or not f.get("key"):
                continue
            out.append(
                SharedFile(
                    "submission",
                    f"submission-{m.id}-{i}",
                    str(f.get("filename") or "file"),
                    str(f.get("content_type") or "application/octet-stream"),
                    int(f.get("size") or 0),
                    f.get("sha256"),
                    contract.freelancer_id,
                    m.id,
                    m.submitted_at,
                    _url(f["key"], str(f.get("filename") or "file")),
                )
            )
    out.sort(key=lambda f: f.created_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    return out


def files_by_milestone(contract: Contract) -> list[tuple[Any, list[SharedFile]]]:
    """``shared_files`` grouped: each milestone of the engagement (in order) with its files,
    then the files about none (``None``), groups without files left out."""
    files = shared_files(contract)
    groups = []
    for m in services.milestones_of(contract):
        mine = [f for f in files if f.milestone_id == m.id]
        if mine:
            groups.append((m, mine))
    rest = [f for f in files if f.milestone_id is None or f.milestone_id not in {m.id for m, _ in groups}]
    if rest:
        groups.append((None, rest))
    return groups


def list_files(user: User, contract_id: Any) -> list[SharedFile]:
    return shared_files(services.open_workroom(user, contract_id))
