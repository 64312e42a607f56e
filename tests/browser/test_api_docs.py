"""The API docs work on a machine with no network: every request that does not go to the
app is refused, and the page still lists the operations, with no error in the console."""

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser


def test_api_docs_list_operations_without_network(browser, live_server):
    context = browser.new_context()
    outside, errors = [], []
    try:

        def only_the_app(route):
            if urlsplit(route.request.url).port == live_server.port:
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_the_app)
        page = context.new_page()
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        response = page.goto(live_server.url("localhost", "/api/v1/docs"))
        assert response.status == 200
        # The tags open folded (140 operations); every tag is listed and unfolds on a click.
        page.wait_for_selector(".opblock-tag", timeout=15_000)
        tags = page.locator(".opblock-tag").all_inner_texts()
        for tag in ("accounts_api", "gigs_api", "orders_api", "reviews_api", "jobs_api", "console_api"):
            assert any(text.startswith(tag) for text in tags), tags
        for tag in ("accounts_api", "gigs_api", "orders_api"):
            before = page.locator(".opblock").count()
            page.locator(f"#operations-tag-{tag}").click()
            page.wait_for_function(f"document.querySelectorAll('.opblock').length > {before}", timeout=15_000)
        operations = page.locator(".opblock-summary-path").all_inner_texts()
        assert "/api/v1/auth/token" in operations and "/api/v1/gigs" in operations, operations[:10]
        assert any("/milestones/" in path for path in operations), operations
        assert page.get_by_text("Gigforge API").first.is_visible()
        page.locator(".opblock-summary").first.click()  # opened: schemas, examples, try it out
        page.wait_for_selector(".opblock-body", timeout=5_000)
        assert outside == []
        assert errors == []
    finally:
        context.close()
