"""Bounded input: request bodies over a few KiB are refused with 413 while they are being read."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The largest valid body is a 42-move connect4 history: well under 1 KiB.
MAX_BODY_BYTES = 16 * 1024


class BodySizeLimit:
    """Counts body bytes as the app reads them and stops at ``max_bytes``, so a client cannot make the
    server buffer an arbitrarily large body. The 413 goes through FastAPI's HTTPException handling
    (FastAPI re-raises an HTTPException from body reading), so it is a JSON ``{"detail"}`` like any 4xx."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, f"request body is larger than {self.max_bytes} bytes")
            return message

        await self.app(scope, limited, send)
