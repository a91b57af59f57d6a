"""Path ids beyond the 64-bit range of the databases' ids are "not found" on every route.

Every route with an ``<int:...>`` parameter is found from the URL map (so a new route is
covered without editing this test) and requested by a logged-in user of each role it allows,
with ids 2**63 (one past the largest id) and 2**70: a 404 page or 404 JSON, never a 500 from the
database driver overflowing.  2**63-1, the largest id, still reaches the view (which answers
its own "not found"), so the bound is exactly the id range.  Inside the range, ids past the 32
bits of an ``integer`` column (2**31, 2**40, 2**63-1) reach every view on both databases and
are its own "not found", never a 500 from a PostgreSQL ``integer`` overflowing.
"""

from __future__ import annotations

import re

from flask import url_for

from server.security import ROLES

TOO_LARGE = (2**63, 2**70)
LARGEST = 2**63 - 1
BEYOND_32_BITS = (2**31, 2**40, LARGEST)


def _int_routes(app) -> list[tuple[str, str, tuple[str, ...]]]:
    """(endpoint, method, int arguments) of every route with an int path parameter."""
    routes = []
    for rule in app.url_map.iter_rules():
        ints = tuple(re.findall(r"<int:(\w+)>", rule.rule))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if ints:
                routes.append((rule.endpoint, method, ints))
    return routes


def _client_as(role: str, app, demo, new_driver):
    driver = new_driver()
    if role == "participant":
        driver.login(*demo.accounts.participants[0][::2])
    elif role == "writer":
        driver.staff_login(*demo.accounts.writer)
    elif role == "admin":
        driver.staff_login(*demo.accounts.admin)
    elif role == "service":
        driver.client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {demo.accounts.token}"
    return driver.client


def _request(client, method: str, path: str):
    if path.startswith("/api/"):
        return client.open(path, method=method, json={})
    return client.open(path, method=method, data={})


def test_ids_beyond_64_bits_are_not_found_on_every_route(app, demo, new_driver):
    app.config["WTF_CSRF_ENABLED"] = False  # the forms' CSRF has its own tests
    routes = _int_routes(app)
    endpoints = {endpoint for endpoint, _method, _ints in routes}
    # the participant, writer, admin and API routes with ids are all found
    assert {"participant.exam", "participant.result", "participant.start", "writer.edit_item",
            "writer.calibration_run", "admin.program", "api.current_item",
            "api.program_status"} <= endpoints, sorted(endpoints)
    clients = {role: _client_as(role, app, demo, new_driver) for role in ROLES}
    checked = 0
    for endpoint, method, ints in routes:
        allowed = app.view_functions[endpoint].access - {"anonymous"}
        for role in sorted(allowed):
            for value in TOO_LARGE:
                with app.test_request_context():
                    path = url_for(endpoint, **dict.fromkeys(ints, value))
                r = _request(clients[role], method, path)
                where = f"{method} {path} as {role}"
                assert r.status_code == 404, (where, r.status_code, r.get_data(as_text=True))
                if path.startswith("/api/"):
                    assert r.json["error"] == "not_found", where
                else:
                    assert r.mimetype == "text/html", where
                    # the participant's language by default: the 404 page in Indonesian
                    assert "Alamat yang diminta tidak ditemukan" in r.get_data(as_text=True)
                checked += 1
            if method == "GET":
                # The largest id still matches the route: the view itself says "not found".
                with app.test_request_context():
                    path = url_for(endpoint, **dict.fromkeys(ints, LARGEST))
                r = _request(clients[role], method, path)
                assert r.status_code == 404, (path, role, r.get_data(as_text=True))
                assert "Alamat yang diminta" not in r.get_data(as_text=True), (path, role)
    assert checked >= 2 * len(routes)


def test_ids_beyond_32_bits_are_not_found_on_both_databases(app, any_demo, new_driver):
    app.config["WTF_CSRF_ENABLED"] = False
    clients = {role: _client_as(role, app, any_demo, new_driver) for role in ROLES}
    checked = 0
    for endpoint, method, ints in _int_routes(app):
        for role in sorted(app.view_functions[endpoint].access - {"anonymous"}):
            for value in BEYOND_32_BITS:
                with app.test_request_context():
                    path = url_for(endpoint, **dict.fromkeys(ints, value))
                r = _request(clients[role], method, path)
                where = f"{method} {path} as {role}"
                # A GET is the view's own "not found"; an empty form or body may be refused
                # before the id is looked up (400/422), but never with a 500.
                expected = {404} if method == "GET" else {400, 404, 409, 422}
                assert r.status_code in expected, (where, r.status_code, r.get_data(as_text=True))
                if path.startswith("/api/") and r.status_code == 404:
                    assert r.json["error"] == "not_found", where
                checked += 1
    assert checked >= 3 * len(_int_routes(app))
