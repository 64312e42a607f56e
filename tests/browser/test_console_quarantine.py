"""The console's Quarantine page fits a phone and a laptop (long file names and signatures
included), with no console errors. Set GIGFORGE_SCREENSHOTS=<folder> to keep screenshots."""

from __future__ import annotations

import hashlib

import pytest

from app.storage.models import StoredFile
from tenants.db import db
from tests.browser.test_console_reviews import _fits, _log_in, _shot
from tests.browser.test_phone_layout import DESKTOP, PHONE
from tests.conftest import ADMIN_PASSWORD
from tests.helpers import watched_page

pytestmark = pytest.mark.browser


def test_the_quarantine_page_fits_a_phone_and_a_laptop(browser, live_server, make_user, in_tenant, acme):
    uploader = make_user(
        acme, display_name="Ada Lovelace", email="ada.lovelace.with.a.long.address@example.com"
    )
    with in_tenant(acme):
        for n, (name, signature, ctype, size) in enumerate(
            [
                ("invoice-march.pdf", "Win.Trojan.Agent-1234567.UNOFFICIAL", "application/pdf", 182_044),
                ("eicar.txt", "Eicar-Test-Signature.UNOFFICIAL", "text/plain", 68),
                (
                    "a-really-long-file-name-that-someone-uploaded-as-evidence-for-the-dispute-final-v3.zip",
                    "Unscannable.TooLarge",
                    "application/zip",
                    31_457_280,
                ),
            ]
        ):
            db.session.add(
                StoredFile(
                    key=f"attachments/{n:032x}.bin",
                    namespace=("attachments", "disputes/evidence", "deliveries")[n],
                    filename=name,
                    content_type=ctype,
                    size=size,
                    sha256=hashlib.sha256(name.encode()).hexdigest(),
                    uploaded_by_id=uploader if n != 2 else None,
                    status="quarantined",
                    scanner="clamd",
                    signature=signature,
                    attempts=1,
                )
            )
        db.session.commit()
    problems: list[str] = []
    errors: list[str] = []
    for viewport in (PHONE, DESKTOP):
        context = browser.new_context(viewport=viewport)
        try:
            page = watched_page(context, errors)
            _log_in(page, live_server, "admin@acme.test", ADMIN_PASSWORD)
            response = page.goto(live_server.url("acme.localhost", "/console/quarantine"))
            assert response.status == 200
            assert page.get_by_text("3 files in quarantine.").is_visible()
            _fits(page, "console-quarantine", problems)
            _shot(page, "console-quarantine")
        finally:
            context.close()
    assert not problems, problems
    assert not errors, errors
