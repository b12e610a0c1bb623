"""The webhook server: PTB's updater with a server that refuses before it reads.

PTB's own webhook server reads a whole request body (up to tornado's 100 MB default) before it looks at
the path or the secret, so anyone who can reach the port can make the bot buffer large bodies; and a
malformed JSON body with the right secret becomes a 500. Here every route streams its body: the path,
the secret token and the declared size are checked as soon as the headers are in, a refused request is
answered and its connection closed without reading the body, a body over `MAX_BODY_BYTES` is cut off,
and a body that is not an update gets 400. A good update goes to `update_queue.put` (the durable inbox)
before the 200, as before.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from http import HTTPStatus
from typing import Any

import tornado.web
from telegram import Bot, Update
from telegram.ext import ExtBot, Updater
from tornado.httpserver import HTTPServer

logger = logging.getLogger(__name__)

#: Telegram's updates are a few KB (files arrive as ids); nothing legitimate comes near this.
MAX_BODY_BYTES = 1 << 20
_SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@tornado.web.stream_request_body
class UpdateHandler(tornado.web.RequestHandler):
    """The bot's path: secret and size checked before the body, then the update queued."""

    SUPPORTED_METHODS = ("POST",)

    def initialize(self, bot: Bot, update_queue: asyncio.Queue[object], secret_token: str | None) -> None:
        self.bot, self.update_queue, self.secret_token = bot, update_queue, secret_token
        self._body = bytearray()

    def prepare(self) -> None:
        token = self.request.headers.get(_SECRET_HEADER, "")
        if self.secret_token is not None and not hmac.compare_digest(token, self.secret_token):
            raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN)
        declared = self.request.headers.get("Content-Length", "")
        if declared and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            raise tornado.web.HTTPError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        if self.request.connection is not None:
            self.request.connection.set_max_body_size(MAX_BODY_BYTES)  # type: ignore[attr-defined]

    def data_received(self, chunk: bytes) -> None:
        if self._finished:  # refused in prepare: nothing is kept
            return
        self._body += chunk
        if len(self._body) > MAX_BODY_BYTES:
            raise tornado.web.HTTPError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)

    async def post(self) -> None:
        try:
            data = json.loads(bytes(self._body))
            is_update = isinstance(data, dict) and type(data.get("update_id")) is int
            update = Update.de_json(data, self.bot) if is_update else None
        except Exception:  # malformed JSON or not an update: the sender's fault, not ours
            logger.warning("webhook: a request body that is not an update was refused")
            raise tornado.web.HTTPError(HTTPStatus.BAD_REQUEST) from None
        if update is None:
            raise tornado.web.HTTPError(HTTPStatus.BAD_REQUEST)
        if isinstance(self.bot, ExtBot):
            self.bot.insert_callback_data(update)
        await self.update_queue.put(update)  # the durable inbox: a failed write is a 500, Telegram retries
        self.set_status(HTTPStatus.OK)
        self.finish()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.finish()  # no body, no traceback


@tornado.web.stream_request_body
class RefuseHandler(tornado.web.RequestHandler):
    """Every other path: 404 from the headers alone."""

    def prepare(self) -> None:
        raise tornado.web.HTTPError(HTTPStatus.NOT_FOUND)

    def data_received(self, chunk: bytes) -> None:
        return None

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.finish()


class _Server:
    """What PTB's updater expects of its webhook server: `serve_forever(ready)` and `shutdown()`."""

    def __init__(self, listen: str, port: int, app: tornado.web.Application) -> None:
        self._http = HTTPServer(app, max_body_size=MAX_BODY_BYTES, max_buffer_size=MAX_BODY_BYTES)
        self._listen, self._port = listen, port
        self.is_running = False

    async def serve_forever(self, ready: asyncio.Event | None = None) -> None:
        self._http.listen(self._port, address=self._listen)
        self.is_running = True
        if ready is not None:
            ready.set()

    async def shutdown(self) -> None:
        if self.is_running:
            self.is_running = False
            self._http.stop()
            await self._http.close_all_connections()


def _log_nothing(handler: tornado.web.RequestHandler) -> None:
    """Request lines carry the secret path: not logged."""


class WebhookUpdater(Updater):
    """PTB's `Updater` whose webhook server is `_Server` with the handlers above. Polling is unchanged.

    `Application.run_webhook` and `Updater.start_webhook` are used as documented; only the step that builds
    the server is replaced (it keeps PTB's bootstrap: setWebhook with retries)."""

    async def _start_webhook(
        self,
        listen: str,
        port: int,
        url_path: str,
        bootstrap_retries: int,
        allowed_updates: Any,
        cert: Any = None,
        key: Any = None,
        drop_pending_updates: bool | None = None,
        webhook_url: str | None = None,
        ready: asyncio.Event | None = None,
        ip_address: str | None = None,
        max_connections: int = 40,
        secret_token: str | None = None,
        unix: Any = None,
    ) -> None:
        if cert is not None or key is not None or unix is not None:
            raise ValueError("TLS and unix sockets are left to the reverse proxy in front of the bot")
        path = "/" + url_path.lstrip("/")
        routes: list[Any] = [
            (rf"{re.escape(path)}/?", UpdateHandler, {"bot": self.bot, "update_queue": self.update_queue,
                                                       "secret_token": secret_token}),
            (r".*", RefuseHandler),
        ]  # fmt: skip
        self._httpd = _Server(listen, port, tornado.web.Application(routes, log_function=_log_nothing))  # type: ignore[assignment]
        await self._bootstrap(
            cert=None,
            max_retries=bootstrap_retries,
            drop_pending_updates=drop_pending_updates,
            webhook_url=webhook_url,
            allowed_updates=allowed_updates,
            ip_address=ip_address,
            max_connections=max_connections,
            secret_token=secret_token,
        )
        await self._httpd.serve_forever(ready=ready)  # type: ignore[union-attr]
