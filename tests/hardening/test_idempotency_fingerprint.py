"""An idempotent multipart request with nameless parts is fingerprinted, not a TypeError (finding 8)."""

from __future__ import annotations

from app.core.idempotency import request_fingerprint

BOUNDARY = "gigforge-boundary"


def _multipart(*parts: tuple[str, bytes]) -> bytes:
    body = b""
    for disposition, content in parts:
        body += f"--{BOUNDARY}\r\nContent-Disposition: form-data{disposition}\r\n\r\n".encode()
        body += content + b"\r\n"
    return body + f"--{BOUNDARY}--\r\n".encode()


def _fingerprint(app, body: bytes) -> str:
    with app.test_request_context(
        "/api/v1/anything",
        method="POST",
        data=body,
        content_type=f"multipart/form-data; boundary={BOUNDARY}",
    ):
        return request_fingerprint()


def test_nameless_file_and_field_parts_are_fingerprinted(app):
    body = _multipart(
        ('; name="files"; filename="a.png"', b"first"),
        ('; filename="b.png"', b"a file part without a name"),
        ("", b"a field part without a name"),
        ('; name="message"', b"hello"),
    )
    fingerprint = _fingerprint(app, body)
    assert len(fingerprint) == 64
    assert _fingerprint(app, body) == fingerprint  # stable


def test_a_nameless_part_still_counts_in_the_fingerprint(app):
    with_nameless = _multipart(('; name="files"; filename="a.png"', b"x"), ('; filename="b.png"', b"y"))
    without = _multipart(('; name="files"; filename="a.png"', b"x"))
    other_content = _multipart(('; name="files"; filename="a.png"', b"x"), ('; filename="b.png"', b"z"))
    fingerprints = {_fingerprint(app, body) for body in (with_nameless, without, other_content)}
    assert len(fingerprints) == 3


def test_an_empty_name_and_no_name_are_different_parts(app):
    nameless = _multipart(('; filename="b.png"', b"y"), ('; name="files"; filename="a.png"', b"x"))
    empty_name = _multipart(('; name=""; filename="b.png"', b"y"), ('; name="files"; filename="a.png"', b"x"))
    assert _fingerprint(app, nameless) != _fingerprint(app, empty_name)
