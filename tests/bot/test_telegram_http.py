"""The aiohttp networking backend: bodies, timeouts and errors as PTB's own HTTPXRequest gives them."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from telegram import InputFile
from telegram.error import NetworkError, RetryAfter, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.telegram.http import AiohttpRequest

pytestmark = pytest.mark.anyio


class Echo:
    """A loopback HTTP server that records each request and answers like the Bot API."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.delay = 0.0
        self.status = 200
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        record: dict[str, Any] = {"method": request.method, "content_type": request.content_type}
        if request.content_type == "multipart/form-data":
            form = await request.post()
            record["fields"] = {
                k: (v.filename, v.file.read()) if isinstance(v, web.FileField) else v for k, v in form.items()
            }
        elif request.method == "POST":
            record["fields"] = dict(await request.post())
        self.requests.append(record)
        await asyncio.sleep(self.delay)
        if self.status == 429:
            body = {"ok": False, "error_code": 429, "description": "Too Many Requests",
                    "parameters": {"retry_after": 3}}  # fmt: skip
            return web.json_response(body, status=429)
        return web.json_response({"ok": True, "result": {"echo": len(self.requests)}})


@pytest.fixture
async def echo() -> AsyncIterator[Echo]:
    server = Echo()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    server.url = f"http://127.0.0.1:{port}/bot123:abc/"
    try:
        yield server
    finally:
        await runner.cleanup()


@pytest.fixture
async def request_() -> AsyncIterator[AiohttpRequest]:
    req = AiohttpRequest(connection_pool_size=2, read_timeout=2.0, connect_timeout=2.0)
    await req.initialize()
    try:
        yield req
    finally:
        await req.shutdown()


async def test_form_fields_are_sent_like_ptb_does(echo: Echo, request_: AiohttpRequest) -> None:
    data = RequestData(
        [
            RequestParameter.from_input("chat_id", 42),
            RequestParameter.from_input("text", "<b>钻石</b> & 客户"),
            RequestParameter.from_input(
                "reply_markup", {"inline_keyboard": [[{"text": "👍", "callback_data": "x"}]]}
            ),
        ]
    )
    result = await request_.post(echo.url + "sendMessage", request_data=data)
    assert result == {"echo": 1}
    [sent] = echo.requests
    assert sent["content_type"] == "application/x-www-form-urlencoded"
    assert sent["fields"]["chat_id"] == "42" and sent["fields"]["text"] == "<b>钻石</b> & 客户"
    assert json.loads(sent["fields"]["reply_markup"])["inline_keyboard"][0][0]["text"] == "👍"


async def test_files_go_multipart(echo: Echo, request_: AiohttpRequest) -> None:
    document = InputFile(b"# FAQ\n\n\xe9\x97\xae", filename="faq.md", attach=False)
    data = RequestData(
        [RequestParameter.from_input("chat_id", 42), RequestParameter.from_input("document", document)]
    )
    await request_.post(echo.url + "sendDocument", request_data=data)
    [sent] = echo.requests
    assert sent["content_type"] == "multipart/form-data"
    assert sent["fields"]["chat_id"] == "42"
    assert sent["fields"]["document"] == ("faq.md", b"# FAQ\n\n\xe9\x97\xae")


async def test_file_download_uses_get(echo: Echo, request_: AiohttpRequest) -> None:
    body = await request_.retrieve(echo.url + "documents/file_1.md")
    assert json.loads(body)["ok"] is True
    assert echo.requests[0]["method"] == "GET"


async def test_error_statuses_become_ptb_errors(echo: Echo, request_: AiohttpRequest) -> None:
    echo.status = 429
    with pytest.raises(RetryAfter) as caught:
        await request_.post(echo.url + "sendMessage", request_data=RequestData([]))
    assert caught.value.retry_after in (3, timedelta(seconds=3))  # int today, timedelta in PTB 23


async def test_slow_server_times_out(echo: Echo, request_: AiohttpRequest) -> None:
    echo.delay = 1.0
    with pytest.raises(TimedOut):
        await request_.post(echo.url + "getMe", read_timeout=0.2)


async def test_refused_connection_is_a_network_error(request_: AiohttpRequest) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(NetworkError) as caught:
        await request_.post(f"http://127.0.0.1:{port}/bot1:a/getMe")
    assert not isinstance(caught.value, TimedOut)


async def test_must_be_initialized_and_can_restart() -> None:
    req = AiohttpRequest()
    with pytest.raises(RuntimeError):
        await req.do_request("http://127.0.0.1:9/x", "GET")
    await req.initialize()
    await req.shutdown()
    await req.initialize()  # PTB re-initialises a stopped Application's requests
    await req.shutdown()
    with pytest.raises(ValueError):
        AiohttpRequest(connection_pool_size=0)


async def test_proxy_from_the_environment_is_used(echo: Echo, monkeypatch: pytest.MonkeyPatch) -> None:
    # The echo server plays the proxy: "telegram.invalid" does not resolve, so an answer can only come
    # through HTTP_PROXY (as httpx, PTB's default backend, also honours it).
    monkeypatch.setenv("HTTP_PROXY", echo.url.split("/bot")[0])
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    req = AiohttpRequest()
    await req.initialize()
    try:
        assert await req.post("http://telegram.invalid/bot1:a/getMe") == {"echo": 1}
    finally:
        await req.shutdown()
    assert echo.requests[0]["method"] == "POST"


async def test_no_proxy_bypasses_the_proxy(echo: Echo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    for name in ("no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    req = AiohttpRequest()
    await req.initialize()
    try:
        assert await req.post(echo.url + "getMe") == {"echo": 1}  # straight to the server
    finally:
        await req.shutdown()
