"""The shared upload check (app.storage.uploads): types by content, sizes, clean names."""

from __future__ import annotations

import io
import zipfile

import pytest

from app.storage.uploads import DOCX, XLSX, Upload, UploadRefused, check_upload, clean_filename, human_size

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
EVERYTHING = {
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/zip",
    "text/plain",
    "text/csv",
    "text/markdown",
    DOCX,
    XLSX,
}


def ooxml(part: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(f"{part}document.xml", "<document/>")
    return out.getvalue()


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("data.txt", "hello")
    return out.getvalue()


def check(name, ctype, data, allowed=EVERYTHING, max_bytes=1000):
    return check_upload(Upload(name, ctype, data), allowed=allowed, max_bytes=max_bytes)


@pytest.mark.parametrize(
    ("name", "declared", "data", "resolved"),
    [
        ("spec.pdf", "application/pdf", b"%PDF-1.7\n...", "application/pdf"),
        ("mock.png", "image/png", PNG, "image/png"),
        ("photo.jpg", "image/jpg", b"\xff\xd8\xff\xe0rest", "image/jpeg"),
        ("anim.gif", "image/gif", b"GIF89a....", "image/gif"),
        ("pic.webp", "image/webp", b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"),
        ("data.zip", "application/x-zip-compressed", plain_zip(), "application/zip"),
        ("notes.txt", "text/plain", "héllo\n".encode(), "text/plain"),
        # Browsers declare these inconsistently: the extension refines a generic declared type.
        ("rows.csv", "application/vnd.ms-excel", b"a,b\n1,2\n", "text/csv"),
        ("rows.csv", "text/plain", b"a,b\n1,2\n", "text/csv"),
        ("README.md", "application/octet-stream", b"# Title\n", "text/markdown"),
        ("README.md", "", b"# Title\n", "text/markdown"),
        ("brief.docx", "application/octet-stream", ooxml("word/"), DOCX),
        ("brief.docx", DOCX, ooxml("word/"), DOCX),
        ("sheet.xlsx", "application/zip", ooxml("xl/"), XLSX),
    ],
)
def test_allowed_files_pass_with_their_resolved_type(name, declared, data, resolved):
    upload = check(name, declared, data)
    assert upload.content_type == resolved and upload.data == data and upload.filename == name


@pytest.mark.parametrize(
    ("name", "declared", "data", "code"),
    [
        ("page.html", "text/html", b"<script>alert(1)</script>", "forbidden_type"),
        ("x.svg", "image/svg+xml", b"<svg onload=alert(1)>", "forbidden_type"),
        ("setup.exe", "application/octet-stream", b"MZ\x90\x00", "forbidden_type"),
        ("fake.png", "image/png", b"not a png", "forbidden_type"),
        ("fake.pdf", "application/octet-stream", b"MZ\x90\x00", "forbidden_type"),
        ("fake.docx", DOCX, plain_zip(), "forbidden_type"),  # a ZIP, but no Word document
        ("word.xlsx", XLSX, ooxml("word/"), "forbidden_type"),  # a Word document named .xlsx
        ("broken.docx", DOCX, b"PK\x03\x04garbage", "forbidden_type"),
        ("bin.txt", "text/plain", b"a\x00b", "forbidden_type"),
        ("latin1.csv", "text/csv", "café".encode("latin-1"), "forbidden_type"),
        ("empty.txt", "text/plain", b"", "empty_file"),
        ("big.txt", "text/plain", b"a" * 1001, "too_large"),
    ],
)
def test_refused_files_say_why(name, declared, data, code):
    with pytest.raises(UploadRefused) as exc:
        check(name, declared, data)
    assert exc.value.code == code and exc.value.extra["code"] == code
    assert exc.value.status == 422


def test_a_type_allowed_elsewhere_is_refused_where_it_is_not():
    with pytest.raises(UploadRefused) as exc:
        check("README.md", "text/markdown", b"# hi", allowed={"text/plain", "image/png"})
    assert "allowed: PNG, text" in str(exc.value)
    # With the extension's type not allowed, a generic type stays what it was declared.
    assert check("README.md", "text/plain", b"# hi", allowed={"text/plain"}).content_type == "text/plain"


def test_messages_can_name_the_file_and_the_field():
    with pytest.raises(UploadRefused) as exc:
        check_upload(
            Upload("a.exe", "application/x-msdownload", b"MZ"),
            allowed=EVERYTHING,
            max_bytes=10,
            field="files",
            name_in_message=True,
        )
    assert exc.value.errors == {"files": exc.value.message}
    assert exc.value.message.startswith("a.exe: this file type is not allowed")


def test_filenames_are_cleaned_for_display():
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("C:\\Users\\me\\spec.pdf") == "spec.pdf"
    assert clean_filename("evil\u202egnp.exe") == "evilgnp.exe"
    assert clean_filename("...") == "file"
    assert len(clean_filename("a" * 400)) == 255


def test_human_sizes():
    assert [human_size(n) for n in (1, 12, 2048, 1536 * 1024, 20 * 1024 * 1024)] == [
        "1 byte",
        "12 bytes",
        "2 KB",
        "1.5 MB",
        "20 MB",
    ]
