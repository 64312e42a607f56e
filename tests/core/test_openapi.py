"""The OpenAPI document is whole: every reference points at something it defines."""

from __future__ import annotations


def _refs(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value)
            else:
                _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)
    return found


def _resolve(spec: dict, ref: str):
    node = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_every_reference_in_the_spec_resolves(platform_client):
    spec = platform_client.get("/api/v1/openapi.json").json
    missing = []
    for ref in sorted(_refs(spec, set())):
        try:
            _resolve(spec, ref)
        except (KeyError, TypeError):
            missing.append(ref)
    assert missing == []


def test_every_operation_documents_its_responses(platform_client):
    spec = platform_client.get("/api/v1/openapi.json").json
    undocumented = [
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"} and not operation.get("responses")
    ]
    assert undocumented == []


def test_docs_page_loads_swagger_ui_from_the_app_under_a_csp(platform_client):
    response = platform_client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "/api/v1/docs/static/swagger-ui-bundle.js" in html
    assert "cdn." not in html and "https://" not in html
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    nonce = csp.split("'nonce-")[1].split("'")[0]
    assert f'<script nonce="{nonce}">' in html


def test_swagger_ui_files_are_served_by_the_app(platform_client, tenant_client):
    from app.core.api_docs import swagger_ui_version

    assert swagger_ui_version() == "5.34.0"  # the pin in requirements.txt
    for client in (platform_client, tenant_client("acme")):
        response = client.get("/api/v1/docs/static/swagger-ui-bundle.js")
        assert response.status_code == 200
        assert response.mimetype in ("text/javascript", "application/javascript")
        assert len(response.get_data()) > 100_000
    assert platform_client.get("/api/v1/docs/static/../../../config.py").status_code == 404
