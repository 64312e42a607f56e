"""End to end in headless Chromium: the console's jobs area at 390 and 1366 px (no sideways
scrolling, nothing cut off): the jobs list, a job's page, the job templates, a template's form
(and its refusal), the matching weights; a moderator closing an abusive job through the
confirmation dialog.

Set GIGFORGE_SCREENSHOTS=<folder> to keep a full-page screenshot of each page at both widths.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.jobs.models import Job, JobTemplate
from tenants.db import db
from tests.browser.test_console_reviews import _fits, _log_in, _shot
from tests.browser.test_phone_layout import DESKTOP, PHONE
from tests.conftest import ADMIN_PASSWORD
from tests.console.jobs_kit import jobs_market, people  # noqa: F401  (fixtures)
from tests.helpers import watched_page

pytestmark = pytest.mark.browser


def test_the_jobs_pages_fit_a_phone_and_a_laptop(browser, live_server, jobs_market, acme, in_tenant):  # noqa: F811
    m = jobs_market(acme)
    with in_tenant(acme):
        template_id = db.session.scalar(sa.select(JobTemplate.id).where(JobTemplate.key == "saas-mvp"))
    pages = [
        ("console-jobs", "/console/jobs"),
        ("console-job", f"/console/jobs/{m.job}"),
        ("console-job-closed", f"/console/jobs/{m.closed}"),
        ("console-job-templates", "/console/job-templates"),
        ("console-job-template", f"/console/job-templates/{template_id}"),
        ("console-job-template-new", "/console/job-templates/new"),
        ("console-matching", "/console/matching"),
    ]
    problems: list[str] = []
    errors: list[str] = []
    for viewport in (PHONE, DESKTOP):
        context = browser.new_context(viewport=viewport)
        try:
            page = watched_page(context, errors)
            _log_in(page, live_server, "admin@acme.test", ADMIN_PASSWORD)
            for name, path in pages:
                response = page.goto(live_server.url("acme.localhost", path))
                assert response.status == 200, (name, response.status)
                _fits(page, name, problems)
                _shot(page, name)
            # A template whose shares do not add up: the message above the form, nothing saved.
            page.goto(live_server.url("acme.localhost", f"/console/job-templates/{template_id}"))
            page.get_by_test_id("milestone-0-share").fill("25")
            page.get_by_test_id("milestone-1-title").fill("")
            page.get_by_test_id("save-template").click()
            page.wait_for_load_state()
            assert "they add up to 105 %" in page.locator(".form-errors").inner_text()
            assert page.locator(".field-error").count() == 1  # the emptied title
            _fits(page, "console-job-template-refused", problems)
            _shot(page, "console-job-template-refused")
            # Weights out of range: the message on the weight.
            page.goto(live_server.url("acme.localhost", "/console/matching"))
            page.get_by_test_id("weight-availability").fill("1.5")
            page.get_by_test_id("save-weights").click()
            page.wait_for_load_state()
            assert page.locator(".field-error").count() == 1
            _fits(page, "console-matching-refused", problems)
            _shot(page, "console-matching-refused")
        finally:
            context.close()
    assert [e for e in errors if "422" not in e] == []  # the refused forms answer 422, on purpose
    assert not problems, "\n".join(problems)
    with in_tenant(acme):
        assert db.session.get(JobTemplate, template_id).milestones[0]["share_percent"] == 20


def test_a_moderator_closes_an_abusive_job_through_the_confirmation_dialog(
    browser,
    live_server,
    jobs_market,  # noqa: F811
    acme,
    in_tenant,
):
    m = jobs_market(acme)
    context = browser.new_context(viewport=PHONE)
    errors: list[str] = []
    try:
        page = watched_page(context, errors)
        _log_in(page, live_server, "mod@acme.test")
        page.goto(live_server.url("acme.localhost", "/console/jobs?status=open"))
        page.get_by_role("link", name="Booking tool for acme gyms").click()
        page.wait_for_load_state()
        assert page.get_by_test_id("job-status").inner_text() == "Open"
        page.get_by_label("Why the job is closed").fill("Asks freelancers for a registration fee by email.")
        page.get_by_test_id("close-button").click()
        dialog = page.get_by_test_id("confirm-dialog")
        dialog.wait_for(state="visible")
        assert "the client is told your reason" in dialog.inner_text()
        _shot(page, "console-job-close-confirm")
        page.get_by_test_id("confirm-dialog-cancel").click()
        with in_tenant(acme):
            assert db.session.get(Job, m.job).status == "open"
        page.get_by_test_id("close-button").click()
        page.get_by_test_id("confirm-dialog-yes").click()
        page.wait_for_load_state()
        assert page.get_by_test_id("job-status").inner_text() == "Closed"
        assert "registration fee" in page.get_by_test_id("closed-reason").inner_text()
        _shot(page, "console-job-closed-by-operator")
    finally:
        context.close()
    assert errors == []
    with in_tenant(acme):
        job = db.session.get(Job, m.job)
        assert (job.status, job.closed_by_id) == ("cancelled", m.moderator)
