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
