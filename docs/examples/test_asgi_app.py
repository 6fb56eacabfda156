"""The async guide's web service example, driven through the ASGI protocol as a server would drive it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from asgi_app import App


async def _request(app: App, method: str, path: str, body: bytes = b"", query: bytes = b"") -> tuple[int, Any]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "query_string": query}
    await app(scope, receive, send)
    status = sent[0]["status"]
    payload = sent[1]["body"]
    return status, json.loads(payload) if payload else None


async def _lifespan(app: App, messages: list[str]) -> list[str]:
    replies: list[str] = []
    queue = [{"type": m} for m in messages]

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    async def send(message: dict[str, Any]) -> None:
        replies.append(message["type"])

    await app({"type": "lifespan"}, receive, send)
    return replies


def test_the_service_stores_and_serves_values(tmp_path: Path) -> None:
    app = App(f"sqlite:///{tmp_path / 'app.db'}")

    async def main() -> None:
        startup = asyncio.ensure_future(_lifespan(app, ["lifespan.startup", "lifespan.shutdown"]))
        while app.store is None:
            await asyncio.sleep(0.01)
        assert await _request(app, "PUT", "/items/a1", b'{"n": 1}') == (204, None)
        await asyncio.gather(*(_request(app, "PUT", f"/items/b{i}", str(i).encode()) for i in range(20)))
        assert await _request(app, "GET", "/items/a1") == (200, {"n": 1})
        assert await _request(app, "GET", "/items/missing") == (404, {"error": "no such key"})
        status, keys = await _request(app, "GET", "/items", query=b"prefix=b1")
        assert status == 200 and sorted(keys) == [
            "b1",
            "b10",
            "b11",
            "b12",
            "b13",
            "b14",
            "b15",
            "b16",
            "b17",
            "b18",
            "b19",
        ]
        status, error = await _request(app, "PUT", "/items/x", b'{"bad": NaN}')
        assert status == 400 and "cannot encode" in error["error"]
        assert await startup == ["lifespan.startup.complete", "lifespan.shutdown.complete"]

    asyncio.run(main())
