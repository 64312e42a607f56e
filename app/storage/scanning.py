"""Antivirus scanners for stored uploads: ``get_scanner().scan(data) -> ScanResult``.

``UPLOAD_SCANNER`` picks one:

- ``none`` (development and tests): no scan; files are clean as soon as they are stored.
- ``clamd``: ClamAV's daemon over its socket (``CLAMD_SOCKET``, a unix path, or
  ``CLAMD_HOST``/``CLAMD_PORT``), with the ``INSTREAM`` command: ``zINSTREAM\\0``, then chunks
  each prefixed by its length (4 bytes, big-endian), then a zero length; clamd answers
  ``stream: OK``, ``stream: <signature> FOUND`` or ``<reason> ERROR``. Written on the stdlib
  socket module (the ``clamd`` package on PyPI is unmaintained).

A scanner raises ``ScannerUnavailable`` when it cannot give a verdict now (clamd down, a
timeout, an unexpected answer): the file stays ``pending`` and the job retries. A file larger
than ``CLAMD_STREAM_MAX_BYTES`` (keep it at most clamd's ``StreamMaxLength``), or one clamd
refuses as over its limit, is not scannable: the verdict is "not clean" with the signature
``UNSCANNABLE`` below (fail closed), so a limit set too low shows up in the console's
Quarantine page instead of letting files through unscanned.

The scan itself (load the row, read the bytes, quarantine) is ``app.storage.files.scan_stored``.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from typing import Protocol

from flask import current_app

CHUNK = 64 * 1024
UNSCANNABLE = "Unscannable.TooLarge"


@dataclass(frozen=True)
class ScanResult:
    clean: bool
    signature: str | None = None  # what was found, when not clean


class ScannerUnavailable(Exception):
    """The scanner could not give a verdict now (down, timed out, answered nonsense)."""


class Scanner(Protocol):
    name: str

    def scan(self, data: bytes) -> ScanResult: ...


class NoScanner:
    """``UPLOAD_SCANNER=none``: everything is clean (development; production warns at startup)."""

    name = "none"

    def scan(self, data: bytes) -> ScanResult:
        return ScanResult(clean=True)


class ClamdScanner:
    """ClamAV's clamd over a unix socket or TCP, with ``INSTREAM``."""

    name = "clamd"

    def __init__(
        self,
        *,
        socket_path: str | None = None,
        host: str = "127.0.0.1",
        port: int = 3310,
        timeout: float = 30.0,
        max_bytes: int = 25 * 1024 * 1024,
    ):
        self.socket_path = socket_path
        self.host = host
        self.port = port
        self.timeout = timeout
        self.max_bytes = max_bytes

    def _connect(self) -> socket.socket:
        try:
            if self.socket_path:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.timeout)
                sock.connect(self.socket_path)
                return sock
            return socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise ScannerUnavailable(f"cannot reach clamd at {self.address}: {exc}") from exc

    @property
    def address(self) -> str:
        return self.socket_path or f"{self.host}:{self.port}"

    @staticmethod
    def _reply(sock: socket.socket) -> str:
        reply = b""
        while not reply.endswith(b"\0") and len(reply) < 4096:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
        return reply.rstrip(b"\0").decode("utf-8", "replace").strip()

    def ping(self) -> bool:
        """Whether clamd answers ``PING`` with ``PONG``."""
        try:
            with self._connect() as sock:
                sock.sendall(b"zPING\0")
                return self._reply(sock) == "PONG"
        except (OSError, ScannerUnavailable):
            return False

    def scan(self, data: bytes) -> ScanResult:
        if len(data) > self.max_bytes:
            return ScanResult(clean=False, signature=UNSCANNABLE)
        view = memoryview(bytes(data))
        with self._connect() as sock:
            try:
                sock.sendall(b"zINSTREAM\0")
                for start in range(0, len(view), CHUNK):
                    part = view[start : start + CHUNK]
                    sock.sendall(struct.pack(">I", len(part)) + part.tobytes())
                sock.sendall(struct.pack(">I", 0))
            except BrokenPipeError:
                pass  # clamd stopped reading (over its StreamMaxLength): its reply says why
            except OSError as exc:
                raise ScannerUnavailable(f"clamd at {self.address} failed: {exc}") from exc
            try:
                reply = self._reply(sock)
            except OSError as exc:
                raise ScannerUnavailable(f"clamd at {self.address} did not answer: {exc}") from exc
        return self.parse_reply(reply)

    def parse_reply(self, reply: str) -> ScanResult:
        if reply == "stream: OK":
            return ScanResult(clean=True)
        if reply.startswith("stream: ") and reply.endswith(" FOUND"):
            return ScanResult(clean=False, signature=reply[len("stream: ") : -len(" FOUND")].strip()[:200])
        if "size limit exceeded" in reply:
            return ScanResult(clean=False, signature=UNSCANNABLE)
        raise ScannerUnavailable(f"clamd at {self.address} answered {reply[:200]!r}")


SCANNERS = ("none", "clamd")


def get_scanner() -> Scanner:
    """The configured scanner (``UPLOAD_SCANNER``), built from the app's config."""
    config = current_app.config
    name = config.get("UPLOAD_SCANNER", "none")
    if name == "none":
        return NoScanner()
    if name == "clamd":
        return ClamdScanner(
            socket_path=config.get("CLAMD_SOCKET"),
            host=config.get("CLAMD_HOST", "127.0.0.1"),
            port=int(config.get("CLAMD_PORT", 3310)),
            timeout=float(config.get("CLAMD_TIMEOUT", 30)),
            max_bytes=int(config.get("CLAMD_STREAM_MAX_BYTES", 25 * 1024 * 1024)),
        )
    raise RuntimeError(f"unknown UPLOAD_SCANNER {name!r} (one of {', '.join(SCANNERS)})")
