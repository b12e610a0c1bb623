"""Issue #18 item 8: the webhook refuses wrong paths, secrets and sizes from the headers alone, before a
body is read; malformed JSON with the right secret gets 400; an out-of-range port is a settings error."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bot.settings import Settings
from bot.telegram.app import build_application, webhook_options
from bot.telegram.webhook import MAX_BODY_BYTES
from tests.bot.bot_process import stub_world
from tests.bot.conftest import TELEGRAM_IDS, BotWorld
from tests.bot.fake_bot_api import FakeBotAPI

pytestmark = pytest.mark.anyio

RM = TELEGRAM_IDS["RM001"]


@pytest.fixture
def world(fake_bot_api: FakeBotAPI, tmp_path: Path) -> Iterator[BotWorld]:
    with stub_world(fake_bot_api, tmp_path / "data", None) as w:
        yield w


@pytest.fixture
async def webhook(world: BotWorld) -> AsyncIterator[dict[str, Any]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = world.settings.model_copy(
        update={
            "telegram_webhook_url": f"http://127.0.0.1:{port}",
            "telegram_webhook_listen": "127.0.0.1",
            "telegram_webhook_port": port,
        }
    )
    options = webhook_options(settings)
    app = build_application(settings, world.kb, world.crm, world.log)
    await app.initialize()
    assert app.post_init is not None and app.post_shutdown is not None and app.updater is not None
    await app.post_init(app)
    try:
        await app.start()
        await app.updater.start_webhook(**options)
        yield {**options, "port": port}
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await app.post_shutdown(app)


async def _headers_only(port: int, path: str, headers: dict[str, str]) -> tuple[int, bool]:
    """Send a request's headers and NO body; return (status, connection closed by the server)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    writer.write("\r\n".join(lines).encode())
    await writer.drain()
    try:
        status_line = await asyncio.wait_for(reader.readline(), timeout=5)
        rest = await asyncio.wait_for(reader.read(), timeout=5)  # EOF: the server closed it
        closed = True
    except TimeoutError:
        rest, closed = b"", False
    finally:
        writer.close()
    assert status_line, rest
    return int(status_line.split()[1]), closed


async def _post(port: int, path: str, body: bytes, secret: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-Telegram-Bot-Api-Secret-Token: {secret}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=10)
    writer.close()
    return int(status_line.split()[1])


async def test_wrong_path_is_refused_before_the_body(webhook: dict[str, Any]) -> None:
    big = str(95 * 1024 * 1024)  # 95 MB announced, never sent
    status, closed = await _headers_only(
        webhook["port"], "/not-the-path", {"Content-Type": "application/json", "Content-Length": big}
    )
    assert status == 404 and closed


async def test_wrong_secret_is_refused_before_the_body(webhook: dict[str, Any]) -> None:
    path = "/" + webhook["url_path"]
    headers = {
        "Content-Type": "application/json",
        "Content-Length": "5000000",
        "X-Telegram-Bot-Api-Secret-Token": "x",
    }
    status, closed = await _headers_only(webhook["port"], path, headers)
    assert status == 403 and closed
    del headers["X-Telegram-Bot-Api-Secret-Token"]
    assert (await _headers_only(webhook["port"], path, headers))[0] == 403


async def test_an_oversized_body_is_refused_from_its_length(webhook: dict[str, Any]) -> None:
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(MAX_BODY_BYTES + 1),
        "X-Telegram-Bot-Api-Secret-Token": webhook["secret_token"],
    }
    status, closed = await _headers_only(webhook["port"], "/" + webhook["url_path"], headers)
    assert status == 413 and closed


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b'{"update_id": "x"}'])
async def test_malformed_json_with_the_right_secret_is_400(webhook: dict[str, Any], body: bytes) -> None:
    status = await _post(webhook["port"], "/" + webhook["url_path"], body, webhook["secret_token"])
    assert status == 400


async def test_a_good_update_is_still_answered(webhook: dict[str, Any], world: BotWorld) -> None:
    fake = world.fake
    mark = fake.mark()
    uid = fake.push_message(RM, "钻石客户有哪些增值服务？")
    replies = await fake.wait_for_messages_async(RM, 1, since=mark, timeout=20)
    assert replies and uid
    body = json.dumps(fake.update(uid)).encode()
    assert await _post(webhook["port"], "/" + webhook["url_path"], body, webhook["secret_token"]) == 200


@pytest.mark.parametrize("port", ["70000", "0", "-1"])
def test_webhook_port_out_of_range_is_a_settings_error(port: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_WEBHOOK_PORT", port)
    with pytest.raises(ValidationError, match="telegram_webhook_port"):
        Settings()
