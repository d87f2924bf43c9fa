"""GET /health of a service process: (HTTP status, JSON body), 503 included; None while it does not answer."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


def probe_health(port: int | str) -> tuple[int, dict] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)
    except OSError:
        return None


def unhealthy_body(port: int | str) -> dict | None:
    """The body of a 503 from /health, None while it answers otherwise (for wait_until)."""
    answer = probe_health(port)
    return answer[1] if answer and answer[0] == 503 else None
