"""The network helpers devtools and the e2e suite share: TCP probes and HTTP calls (requests).

Two ways to call: ``probe_json`` never raises (status tables and health polls ask "does it answer?"),
``request_json``, ``get_bytes`` and ``get_text`` raise (a test or an install step that needs the answer).
"""

from __future__ import annotations

import socket

import requests

from devtools.errors import DevtoolsError


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Something holds ``host:port``: we cannot bind it (SO_REUSEADDR, so TIME_WAIT does not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def accepts(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    """Something on ``host:port`` accepts a connection."""
    with socket.socket() as s:
        s.settimeout(timeout)
        return s.connect_ex((host, port)) == 0


def probe_json(url: str, timeout: float = 2.0) -> dict | None:
    """The JSON body of a 200 answer, {"status": "ok"} for a 200 page that is not JSON, else None."""
    try:
        response = requests.get(url, timeout=timeout)
    except requests.RequestException:
        return None
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return {"status": "ok"}  # a page (the frontend) rather than JSON


def request_json(url: str, method: str = "GET", body: dict | None = None, timeout: float = 10.0) -> dict:
    """Call ``url`` and return its JSON; an HTTP error status raises requests.HTTPError with the body."""
    response = requests.request(method, url, json=body, timeout=timeout)
    if response.status_code >= 400:
        raise requests.HTTPError(f"{method} {url}: {response.status_code} {response.text[:300]}", response=response)
    return response.json()


def get_bytes(url: str, what: str, timeout: float = 60.0) -> bytes:
    """Download a file (a release manifest) as it is; a failure is one sentence naming ``what``."""
    try:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise DevtoolsError(
            f"cannot download {what} from {url} ({exc.__class__.__name__})",
            "check the network or proxy settings, then run the command again",
        ) from None
    return response.content


def get_text(url: str, what: str, timeout: float = 60.0) -> str:
    return get_bytes(url, what, timeout).decode()
