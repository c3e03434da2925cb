"""A small client for Superset's REST API (standard library only: it runs in optout's venv).

It logs in like the web page does (session cookie + CSRF token), because Superset's
POST/PUT endpoints check a CSRF token even for API calls.
"""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request


class SupersetError(Exception):
    """Superset answered with an error; the message has the call and Superset's answer."""


class SupersetClient:
    def __init__(self, base_url: str, username: str, password: str):
        self.base_url = base_url.rstrip("/")
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        token = self._call(
            "POST",
            "/api/v1/security/login",
            {
                "username": username,
                "password": password,
                "provider": "db",
                "refresh": False,
            },
        )["access_token"]
        self._headers = {"Authorization": f"Bearer {token}"}
        self._headers["X-CSRFToken"] = self.get("/api/v1/security/csrf_token/")["result"]
        self._headers["Referer"] = self.base_url

    def get(self, path: str, query: dict | None = None) -> dict:
        if query is not None:
            path = f"{path}?q={urllib.parse.quote(_rison(query))}"
        return self._call("GET", path)

    def post(self, path: str, body: dict) -> dict:
        return self._call("POST", path, body)

    def put(self, path: str, body: dict) -> dict:
        return self._call("PUT", path, body)

    def delete(self, path: str) -> dict:
        return self._call("DELETE", path)

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Accept": "application/json", **getattr(self, "_headers", {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with self._opener.open(request, timeout=120) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as exc:
            raise SupersetError(f"{method} {path}: HTTP {exc.code}: {exc.read().decode()[:1000]}") from None
        return json.loads(text) if text else {}


def _rison(value) -> str:
    """Superset's list endpoints take their query as Rison; enough of it for filters and paging."""
    if isinstance(value, dict):
        return "(" + ",".join(f"{key}:{_rison(item)}" for key, item in value.items()) + ")"
    if isinstance(value, list):
        return "!(" + ",".join(_rison(item) for item in value) + ")"
    if isinstance(value, bool):
        return "!t" if value else "!f"
    if isinstance(value, int | float):
        return str(value)
    text = str(value).replace("!", "!!").replace("'", "!'")
    return f"'{text}'"
