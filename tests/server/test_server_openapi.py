"""The OpenAPI document (``/api/v1/openapi.json``) covers every route of the app: each rule
and method of the URL map is an operation, written out (none ``x-undocumented``), with the
rule's path parameters, and the security and roles of the view's ``@access`` declaration."""

from __future__ import annotations

import re

import schemathesis

from server.api.openapi import API, PAGES
from server.security import ROLES

SCHEME_OF_ROLE = {"participant": "participantSession", "writer": "staffSession",
                  "admin": "staffSession", "service": "serviceToken"}


def _routes(app) -> dict[tuple[str, str], tuple[str, frozenset]]:
    """(OpenAPI path, method) -> (endpoint, roles) of every route, read from the URL map."""
    routes = {}
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        roles = frozenset({"anonymous"}) if rule.endpoint == "static" else \
            app.view_functions[rule.endpoint].access
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes[(path, method)] = (rule.endpoint, roles)
    return routes


def test_openapi_documents_every_route(app, client):
    doc = client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    documented = {(path, method.upper()): op for path, ops in doc["paths"].items()
                  for method, op in ops.items()}
    routes = _routes(app)
    assert set(routes) == set(documented), {
        "missing": set(routes) - set(documented), "extra": set(documented) - set(routes)}
    for (path, method), (endpoint, roles) in routes.items():
        op = documented[(path, method)]
        label = f"{method} {path}"
        assert not op.get("x-undocumented"), f"{label}: add it to API or PAGES in openapi.py"
        assert op["operationId"] == f"{endpoint}.{method.lower()}"
        assert set(op["x-roles"]) == roles and roles <= set(ROLES), label
        # a service route names the token scope it needs, as its view enforces it
        scope = None if endpoint == "static" else app.view_functions[endpoint].scope
        assert op.get("x-scopes") == ([scope] if "service" in roles else None), label
        schemes = {name for requirement in op["security"] for name in requirement}
        if "anonymous" in roles:
            assert schemes == set(), label
        else:
            assert schemes == {SCHEME_OF_ROLE[r] for r in roles}, label
            assert {"401", "403"} <= set(op["responses"]), label
        in_path = set(re.findall(r"{(\w+)}", path))
        params = {p["name"] for p in op["parameters"] if p["in"] == "path"}
        assert params == in_path, label
        for p in op["parameters"]:
            if p["in"] == "path" and re.search(rf"<int:{p['name']}>", _rule(app, endpoint)):
                assert p["schema"]["type"] == "integer" and p["schema"]["maximum"] == 2**63 - 1
        if method == "POST" and not path.startswith("/api/"):
            media = set(op["requestBody"]["content"])
            assert media <= {"application/x-www-form-urlencoded", "multipart/form-data"}, label
    # Nothing written out for a route that no longer exists.
    assert set(API) <= {path for path, _ in routes}
    assert set(PAGES) <= {(endpoint, method) for (_, method), (endpoint, _) in routes.items()}


def _rule(app, endpoint: str) -> str:
    return next(r.rule for r in app.url_map.iter_rules() if r.endpoint == endpoint)


def test_openapi_document_loads_in_schemathesis(app):
    # schemathesis leaves out the operation that serves the document unless a filter
    # selects it: this one selects every path.
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app).include(
        path_regex="^/")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(_routes(app))
