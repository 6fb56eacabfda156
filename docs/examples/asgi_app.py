"""A FastAPI-style web service on ``polykv.aio``, written as a plain ASGI application (no framework needed).

The shape is FastAPI's: a lifespan opens one async store when the server starts and closes it when it
stops; each handler awaits the store. Routes: ``GET /items/<key>`` (200 with the JSON value, 404),
``PUT /items/<key>`` (the body is the JSON value; 204), ``GET /items?prefix=p`` (the keys under ``p``).
Run it with any ASGI server, e.g. ``POLYKV_URL=sqlite:///app.db uvicorn asgi_app:app``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import polykv.aio

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


#: What ``store.get`` returns for an absent key here (a stored JSON null is a value like any other).
ABSENT = object()


class App:
    """The ASGI application; ``url`` None means ``$POLYKV_URL``, else ``polykv``'s default store."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self.store: polykv.aio.AsyncKeyValueStore | None = None

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
        elif scope["type"] == "http":
            status, body = await self.handle(scope, receive)
            await send(
                {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": body})

    async def lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.store = await polykv.aio.connect(self.url)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.store is not None:
                    await self.store.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def handle(self, scope: dict[str, Any], receive: Receive) -> tuple[int, bytes]:
        store = self.store
        assert store is not None, "the lifespan startup opens the store"
        method, path = scope["method"], scope["path"]
        if path == "/items" and method == "GET":
            prefix = parse_qs(scope.get("query_string", b"").decode()).get("prefix", [""])[0]
            return 200, json.dumps([key async for key in store.keys_by_prefix(prefix)]).encode()
        if not path.startswith("/items/"):
            return 404, b'{"error": "no such route"}'
        key = path.removeprefix("/items/")
        try:
            if method == "GET":
                value = await store.get(key, ABSENT)
                return (404, b'{"error": "no such key"}') if value is ABSENT else (200, json.dumps(value).encode())
            if method == "PUT":
                body = b""
                while True:
                    message = await receive()
                    body += message.get("body", b"")
                    if not message.get("more_body"):
                        break
                await store.set(key, json.loads(body))
                return 204, b""
        except polykv.PolyKVError as exc:  # a bad key or value: the store's own message, no secret in it
            return 400, json.dumps({"error": str(exc)}).encode()
        return 405, b'{"error": "method not allowed"}'


app = App()
