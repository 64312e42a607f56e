"""Checking uploaded files before they are stored: type by content, size, a clean display name.

Shared by every domain that takes files from people (message attachments, job and proposal
attachments): each names the types it accepts and its size limit; the rules of what a type's
content must look like live here once.

``check_upload(upload, allowed=..., max_bytes=...)`` returns the upload with its resolved
type and a cleaned filename, or raises ``UploadRefused`` (a ``DomainError``, 422) whose
``code`` says why: ``forbidden_type`` (a type not allowed, or content that is not what the
type claims), ``empty_file``, ``too_large``. It never stores anything; callers check every
file first and store only when all passed, so a refused request leaves no file behind.

The type a file is checked as: the declared one (the browser's or client's
``Content-Type``, with common aliases such as ``image/jpg``) when it is allowed, refined by
the filename's extension when the declared one is generic (``application/octet-stream``,
none, ``text/plain`` for a ``.csv``, ``application/zip`` for a ``.docx``) — browsers declare
Markdown, CSV and Office files inconsistently across systems. Whatever type is chosen, the
content must then match it: magic bytes where the format has a signature (PNG, JPEG, GIF,
WebP, PDF, ZIP; DOCX and XLSX are ZIP archives with the OOXML parts of a Word or Excel
document), UTF-8 text without NUL bytes for the text formats (plain text, CSV, Markdown).
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from app.core.domain_errors import DomainError

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# What people share as documents (job and proposal attachments, dispute evidence, workroom
# files): PDF, images, ZIP, CSV, text, Markdown, Word and Excel.
DOCUMENT_TYPES = frozenset(
    (
        "application/pdf",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/zip",
        "text/csv",
        "text/plain",
        "text/markdown",
        DOCX,
        XLSX,
    )
)


def _starts_with(*magic: bytes) -> Callable[[bytes], bool]:
    return lambda data: any(data.startswith(m) for m in magic)


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _is_webp(data: bytes) -> bool:
    return data[:4] == b"RIFF" and data[8:12] == b"WEBP"


def _is_ooxml(part: str) -> Callable[[bytes], bool]:
    """A ZIP archive holding ``[Content_Types].xml`` and the ``word/`` or ``xl/`` document part.

    Only the archive's directory is read (nothing is decompressed), so a ZIP bomb costs nothing.
    """

    def check(data: bytes) -> bool:
        if not data.startswith(b"PK\x03\x04"):
            return False
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except Exception:  # any archive that cannot be listed is not a document (BadZipFile, OSError...)
            return False
        return "[Content_Types].xml" in names and any(name.startswith(part) for name in names)

    return check


@dataclass(frozen=True)
class FileType:
    content_type: str
    label: str  # for messages: "allowed: PDF, PNG ..."
    extensions: tuple[str, ...]  # lower case, without the dot
    matches: Callable[[bytes], bool]  # does the content look like this type?


FILE_TYPES: dict[str, FileType] = {
    t.content_type: t
    for t in (
        FileType("application/pdf", "PDF", ("pdf",), _starts_with(b"%PDF-")),
        FileType("image/png", "PNG", ("png",), _starts_with(b"\x89PNG\r\n\x1a\n")),
        FileType("image/jpeg", "JPEG", ("jpg", "jpeg"), _starts_with(b"\xff\xd8\xff")),
        FileType("image/gif", "GIF", ("gif",), _starts_with(b"GIF87a", b"GIF89a")),
        FileType("image/webp", "WebP", ("webp",), _is_webp),
        FileType("application/zip", "ZIP", ("zip",), _starts_with(b"PK\x03\x04")),
        FileType("text/plain", "text", ("txt", "text", "log"), _is_text),
        FileType("text/csv", "CSV", ("csv",), _is_text),
        FileType("text/markdown", "Markdown", ("md", "markdown"), _is_text),
        FileType(DOCX, "Word (.docx)", ("docx",), _is_ooxml("word/")),
        FileType(XLSX, "Excel (.xlsx)", ("xlsx",), _is_ooxml("xl/")),
    )
}
BY_EXTENSION = {ext: t.content_type for t in FILE_TYPES.values() for ext in t.extensions}
ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "application/x-pdf": "application/pdf",
    "application/x-zip-compressed": "application/zip",
    "application/x-zip": "application/zip",
    "text/x-markdown": "text/markdown",
    "text/x-csv": "text/csv",
    "application/csv": "text/csv",
}
# Declared types that say little: the extension may name a more precise allowed type.
GENERIC = {
    "",
    "application/octet-stream",
    "binary/octet-stream",
    "text/plain",
    "application/zip",
    "application/vnd.ms-excel",  # what Windows declares for a .csv when Excel is installed
}

# Control characters and bidi overrides (which disguise a name's real extension).
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


class UploadRefused(DomainError):
    """An upload that may not be stored. ``code``: forbidden_type, empty_file, too_large (the
    API answers it as ``errors.code``); ``str(err)`` is a message for the person who sent it."""

    code = "upload_refused"

    def __init__(self, message: str, *, code: str, field: str | None = None, location: str | None = None):
        super().__init__(
            message, {field: message} if field else None, code=code, location=location, extra={"code": code}
        )


@dataclass(frozen=True)
class Upload:
    """A file as received: the sender's name for it, the declared type, the bytes."""

    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def read_uploads(files: Iterable, max_bytes: int) -> list[Upload]:
    """``Upload``s from Werkzeug ``FileStorage``s (``request.files.getlist(...)``), each read
    only to one byte past ``max_bytes`` (enough to refuse it as too large); parts without a
    filename (an empty file input) are skipped."""
    uploads = []
    for f in files:
        if not getattr(f, "filename", None):
            continue
        uploads.append(Upload(f.filename, f.mimetype or "", f.stream.read(max_bytes + 1)))
    return uploads


def clean_filename(raw: str | None, fallback: str = "file") -> str:
    """A display name for an uploaded file: last path part, NFC, no control characters, 255 chars.

    Only ever shown (escaped) or sent in Content-Disposition; never part of a storage path."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _CONTROL_RE.sub("", unicodedata.normalize("NFC", name)).strip().strip(".")
    return (name or fallback)[:255]


def human_size(n: int) -> str:
    """``20 MB``, ``1.5 MB``, ``340 KB``, ``12 bytes`` (binary units, as the limits are set)."""
    for unit, size in (("MB", 1024 * 1024), ("KB", 1024)):
        if n >= size:
            return f"{n / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} byte{'s' if n != 1 else ''}"


def allowed_labels(allowed: Collection[str]) -> str:
    """ "PDF, PNG, JPEG ..." in the order of FILE_TYPES."""
    return ", ".join(t.label for t in FILE_TYPES.values() if t.content_type in allowed)


def accept_attribute(allowed: Collection[str]) -> str:
    """The ``accept`` of an ``<input type=file>`` for these types (extensions and types)."""
    parts = []
    for t in FILE_TYPES.values():
        if t.content_type in allowed:
            parts.extend(f".{ext}" for ext in t.extensions)
            parts.append(t.content_type)
    return ",".join(parts)


def resolve_type(content_type: str | None, filename: str | None, allowed: Collection[str]) -> str:
    """The type a file is checked and stored as (see the module's docstring)."""
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    declared = ALIASES.get(declared, declared)
    if declared in GENERIC:
        ext = (filename or "").rpartition(".")[2].lower() if "." in (filename or "") else ""
        by_ext = BY_EXTENSION.get(ext)
        if by_ext in allowed:
            return by_ext
    return declared


def check_upload(
    upload: Upload,
    *,
    allowed: Collection[str],
    max_bytes: int,
    field: str | None = None,
    location: str | None = None,
    name_in_message: bool = False,
) -> Upload:
    """The upload with its resolved type and a clean filename, if it may be stored.

    ``allowed``: content types (keys of FILE_TYPES); ``max_bytes``: the per-file limit;
    ``field``/``location``: where the error is reported (a field error, e.g. ``files``);
    ``name_in_message``: start the message with the file's name (when several are checked).
    Raises UploadRefused (forbidden_type, empty_file, too_large).
    """
    unknown = set(allowed) - set(FILE_TYPES)
    if unknown:
        raise ValueError(f"no content check for {sorted(unknown)}")
    name = clean_filename(upload.filename)
    prefix = f"{name}: " if name_in_message else ""

    def refuse(message: str, code: str) -> UploadRefused:
        if prefix:
            message = prefix + message[0].lower() + message[1:]
        return UploadRefused(message, code=code, field=field, location=location)

    content_type = resolve_type(upload.content_type, upload.filename, allowed)
    if content_type not in allowed:
        raise refuse(f"This file type is not allowed (allowed: {allowed_labels(allowed)}).", "forbidden_type")
    data = bytes(upload.data or b"")
    if not data:
        raise refuse("The file is empty.", "empty_file")
    if len(data) > max_bytes:
        raise refuse(f"The file is too large (at most {human_size(max_bytes)}).", "too_large")
    if not FILE_TYPES[content_type].matches(data):
        raise refuse(
            f"The file's content is not {FILE_TYPES[content_type].label}, as its type claims.",
            "forbidden_type",
        )
    return Upload(name, content_type, data)
