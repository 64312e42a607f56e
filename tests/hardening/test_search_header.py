"""User text never goes into a response header unencoded (finding 8): a "did you mean" for a
query gunicorn cannot put in a header made it refuse the response (an empty 500). A query with
control characters is now refused at the edge (a 422 naming ``q``, app/core/schema.py); text
outside Latin-1 is searched and its correction percent-encoded."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
import requests

from tests.search.conftest import _empty_search_index, make_gig  # noqa: F401  (fixtures)

HEADER = "X-Search-Did-You-Mean"
# What gunicorn (and RFC 9110) accept in a header value: visible ASCII, space and tab.
SAFE_HEADER_VALUE = re.compile(r"^[\x20-\x7e\t]*\Z")


@pytest.fixture
def vintage_gig(acme, make_seller, make_gig, run_jobs):  # noqa: F811
    seller = make_seller(acme, display_name="Dana Designer")
    make_gig(acme, seller, title="I will design a vintage badge logo", category="logo-design")
    run_jobs()


@pytest.mark.parametrize("query", ["vintge\x01", "vintge\x1b[31m", "vintge \x7f"])
def test_a_query_with_control_characters_is_a_422_naming_q(vintage_gig, tenant_client, query):
    response = tenant_client("acme").get("/api/v1/gigs", query_string={"q": query})
    assert response.status_code == 422 and "q" in response.json["errors"]["query"]
    assert HEADER not in response.headers and "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "query", ["vintge caf\u00e9 \u2603", "vintge\u2603", "vintge\u00ae", "vintge\r\nSet-Cookie: x=1"]
)
def test_did_you_mean_header_is_encoded(vintage_gig, tenant_client, query):
    response = tenant_client("acme").get("/api/v1/gigs", query_string={"q": query})
    assert response.status_code == 200
    raw = response.headers[HEADER]
    assert SAFE_HEADER_VALUE.match(raw), raw
    assert "Set-Cookie" not in response.headers
    decoded = unquote(raw)
    assert decoded.startswith("vintage")
    facets = tenant_client("acme").get("/api/v1/search/facets", query_string={"q": query}).json
    assert decoded == facets["did_you_mean"]  # the header is the body's text, percent-encoded


def test_an_ordinary_correction_reads_as_before(vintage_gig, tenant_client):
    response = tenant_client("acme").get("/api/v1/gigs?q=vintge+logo")
    assert response.headers[HEADER] == "vintage logo"


def test_search_with_any_text_through_the_production_server(app, vintage_gig, production_web):
    web, port = production_web(SEARCH_INDEX_DIR=app.config["SEARCH_INDEX_DIR"])
    for query in ("vintge\u2603", "vintge\u00e9", "vintge\u00ae"):
        response = requests.get(
            f"http://127.0.0.1:{port}/api/v1/gigs",
            params={"q": query},
            headers={"Host": f"acme.gigforge.test:{port}"},
            timeout=30,
        )
        assert response.status_code == 200, (query, web.output()[-2000:])
        assert unquote(response.headers[HEADER]).startswith("vintage")
