"""`make run`: step-by-step progress while seeding, and a summary of every tenant on each start."""

from __future__ import annotations

import logging

from app.demo.devserver import SeedProgress, quiet_logs, summary_lines
from tenants import provisioning


def test_summary_lists_every_tenant_including_one_created_after_seeding(app):
    with app.app_context():
        app.config["PUBLIC_PORT"] = "5000"
        try:
            provisioning.create_tenant(
                "initech",
                "Initech Gigs",
                base_domain="localhost",
                options={"admin_email": "boss@initech.test"},
            )
            text = "\n".join(summary_lines())
        finally:
            app.config["PUBLIC_PORT"] = ""
    assert "platform console:  http://localhost:5000/platform/" in text
    assert "first sign-in asks you to set up an authenticator app" in text
    assert "http://localhost:5000/api/v1/docs" in text
    assert "3 marketplace(s)" in text
    for slug, name in (
        ("acme", "Acme Test Market"),
        ("globex", "Globex Test Market"),
        ("initech", "Initech Gigs"),
    ):
        row = next(line for line in text.splitlines() if line.strip().startswith(slug + " "))
        assert name in row
        assert f"http://{slug}.localhost:5000/" in row
        assert f"http://{slug}.localhost:5000/console/" in row
    # acme is a demo slug (known logins); initech's admin was invited by email.
    assert "admin@acme.test (operator)" in text
    assert "invited by email" in next(line for line in text.splitlines() if "initech" in line)


def test_seed_progress_prints_a_line_per_tenth_of_a_step():
    out: list[str] = []
    progress = SeedProgress(out=out.append)
    for done in range(1, 251):
        progress("acme", "gigs", done, 250)
    progress("acme", "orders", 0, 1)
    progress("acme", "orders", 1, 1)
    assert len([line for line in out if "gigs" in line]) == 11  # the start, then each tenth
    assert out[-3] == "  acme: gigs     [##########] 250/250"
    assert out[-2:] == ["  acme: orders ...", "  acme: orders done"]


def test_quiet_logs_hides_info_lines_for_a_while_only(caplog):
    logger = logging.getLogger("app.gigs.services")
    with caplog.at_level(logging.INFO):
        with quiet_logs("app"):
            logger.info("gig created")
            logger.warning("something odd")
        logger.info("after seeding")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["something odd", "after seeding"]
