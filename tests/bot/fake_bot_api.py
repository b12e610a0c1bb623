"""A fake Telegram Bot API server on loopback, for end-to-end tests that drive the REAL PTB Application.

Why: the bot must be tested through the same HTTP seam it uses in production (python-telegram-bot's
``HTTPXRequest`` posting to ``{base_url}{token}/{method}``), without the network and without mocking PTB.

Usage (see ``tests/bot/test_fake_bot_api.py`` for complete examples)::

    with FakeBotAPI() as fake:
        app = (ApplicationBuilder().token(fake.token)
               .base_url(fake.base_url).base_file_url(fake.base_file_url).build())
        ...
        fake.push_message(42, "你好")
        [reply] = await fake.wait_for_messages_async(42, 1)

What PTB sends (v22, ``telegram/request/_httpxrequest.py``): always POST; parameters form-encoded where
strings are sent raw and everything else (ints, bools, lists, dicts such as ``reply_markup``) is
JSON-encoded; ``multipart/form-data`` when a file is uploaded. Responses are ``{"ok": true, "result": ...}``
or ``{"ok": false, "error_code": N, "description": "...", "parameters": {...}}`` with HTTP status N; PTB maps
the HTTP status (400 → BadRequest, 403 → Forbidden, 401/404 → InvalidToken, 409 → Conflict, other →
NetworkError) and ``parameters.retry_after`` → RetryAfter.

The fake is deliberately a little stricter than Telegram where that makes tests more honest: in HTML parse
mode a bare ``&`` is rejected (Telegram would silently keep it), so un-escaped user text is caught.

Everything here is stdlib only and binds to 127.0.0.1; webhook deliveries go to loopback URLs only.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import itertools
import json
import logging
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from telegram.ext import Application, ApplicationBuilder

logger = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456789:AAFakeTokenForTestsOnly_abcdefghijk"
BOT_USERNAME = "rm_assistant_test_bot"
BOT_FIRST_NAME = "RM助手(测试)"

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024  # bots may only getFile files up to 20 MB

# Parameters that are always plain strings on the wire; everything else PTB JSON-encodes.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "file_id",
        "url",
        "secret_token",
        "action",
        "language_code",
        "ip_address",
        "business_connection_id",
        "message_effect_id",
        "description",
        "short_description",
        "name",
        "title",
        "query",
        "emoji",
        "custom_emoji_id",
        "data",
        "certificate",
    }
)
_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_BUTTON_KINDS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_CONFLICT_OTHER_POLL = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


# --------------------------------------------------------------------------------------------------------
# Telegram HTML parse mode
# --------------------------------------------------------------------------------------------------------

_HTML_TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
}
_HTML_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_RE = re.compile(
    r"""<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[A-Za-z_][A-Za-z0-9_:.-]*(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?)*)\s*/?>"""
)
_ATTR_RE = re.compile(r"""([A-Za-z_][A-Za-z0-9_:.-]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?""")
_ENTITY_RE = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9A-Fa-f]{1,7})|([A-Za-z][A-Za-z0-9]*));")


class HtmlParseError(ValueError):
    """Raised by :func:`parse_telegram_html`; the message mimics Telegram's wording."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _unescape_attr(value: str) -> str:
    if value[:1] in {'"', "'"}:
        value = value[1:-1]
    return _ENTITY_RE.sub(lambda m: _decode_entity(m) or m.group(0), value)


def _decode_entity(m: re.Match[str]) -> str | None:
    dec, hexa, name = m.groups()
    if name is not None:
        return _HTML_NAMED_ENTITIES.get(name)
    code = int(dec) if dec is not None else int(hexa, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def parse_telegram_html(text: str, *, strict: bool = True) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-flavoured HTML into (visible text, entities) or raise :class:`HtmlParseError`.

    Allowed: b strong i em u ins s strike del a[href] code[class] pre blockquote[expandable] tg-spoiler
    span.tg-spoiler tg-emoji[emoji-id]; entities &lt; &gt; &amp; &quot; and numeric ones. Tags must nest.
    ``strict`` also rejects a bare ``&`` (Telegram keeps it literally, but it signals missing escaping).
    """
    out: list[str] = []
    pos16 = 0
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[dict[str, Any]] = []
    i, n = 0, len(text)

    def offset(at: int) -> int:
        return len(text[:at].encode("utf-8"))

    while i < n:
        ch = text[i]
        if ch == "<":
            m = _TAG_RE.match(text, i)
            if m is None:
                if text.find(">", i) < 0:
                    raise HtmlParseError(f"Unclosed start tag at byte offset {offset(i)}")
                name_m = re.match(r"</?([^\s>/]*)", text[i:])
                name = name_m.group(1) if name_m else ""
                raise HtmlParseError(f'Unsupported start tag "{name}" at byte offset {offset(i)}')
            closing, name, raw_attrs = m.group(1) == "/", m.group(2).lower(), m.group(3)
            if closing:
                if not stack:
                    raise HtmlParseError(f"Unexpected end tag at byte offset {offset(i)}")
                open_name, start, attrs = stack.pop()
                if open_name != name:
                    raise HtmlParseError(
                        f'Unmatched end tag at byte offset {offset(i)}, expected "</{open_name}>", '
                        f'found "</{name}>"'
                    )
                entity = _html_entity(open_name, start, pos16 - start, attrs)
                if entity is not None:
                    entities.append(entity)
            else:
                if name not in _HTML_TAG_ENTITY:
                    raise HtmlParseError(f'Unsupported start tag "{name}" at byte offset {offset(i)}')
                attrs = {a.lower(): _unescape_attr(v or "") for a, v in _ATTR_RE.findall(raw_attrs)}
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise HtmlParseError(
                        f'Tag "span" must have class "tg-spoiler" at byte offset {offset(i)}'
                    )
                if name == "tg-emoji" and not attrs.get("emoji-id"):
                    raise HtmlParseError(
                        f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {offset(i)}'
                    )
                stack.append((name, pos16, attrs))
            i = m.end()
            continue
        if ch == "&":
            m = _ENTITY_RE.match(text, i)
            decoded = _decode_entity(m) if m else None
            if m is None or decoded is None:
                if strict or m is not None:
                    shown = m.group(0) if m else "&"
                    raise HtmlParseError(
                        f'Unsupported HTML entity or bare "&" ("{shown}") at byte offset {offset(i)}; '
                        "escape it as &amp;"
                    )
                decoded = "&"
                i += 1
            else:
                i = m.end()
            out.append(decoded)
            pos16 += utf16_len(decoded)
            continue
        out.append(ch)
        pos16 += 2 if ord(ch) > 0xFFFF else 1
        i += 1
    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    # Telegram merges <pre><code class="language-x"> into one pre entity with a language.
    pres = {(e["offset"], e["length"]): e for e in entities if e["type"] == "pre"}
    final: list[dict[str, Any]] = []
    for e in entities:
        outer = pres.get((e["offset"], e["length"]))
        if e["type"] == "code" and outer is not None:
            if "language" in e:
                outer["language"] = e.pop("language")
            continue
        if e["type"] == "code":
            e.pop("language", None)  # only a pre entity carries a language
        final.append(e)
    final.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), final


def _html_entity(tag: str, start: int, length: int, attrs: Mapping[str, str]) -> dict[str, Any] | None:
    if length <= 0:
        return None  # Telegram drops empty entities
    entity: dict[str, Any] = {"type": _HTML_TAG_ENTITY[tag], "offset": start, "length": length}
    if tag == "a":
        href = attrs.get("href", "")
        if not href:
            return None
        entity["url"] = href
    elif tag == "code" and attrs.get("class", "").startswith("language-"):
        entity["language"] = attrs["class"].removeprefix("language-")
    elif tag == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    elif tag == "tg-emoji":
        entity["custom_emoji_id"] = attrs["emoji-id"]
    return entity


# --------------------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """One multipart file part of a request."""

    field_name: str
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One request the bot made, with the fake's answer."""

    method: str
    params: dict[str, Any]
    files: dict[str, UploadedFile]
    ok: bool
    result: Any = None
    error_code: int | None = None
    description: str | None = None
    seq: int = 0

    @property
    def chat_id(self) -> int | str | None:
        if isinstance(self.result, dict) and isinstance(self.result.get("chat"), dict):
            return self.result["chat"]["id"]
        value = self.params.get("chat_id")
        return value if value is None or isinstance(value, str) else int(value)

    @property
    def text(self) -> str | None:
        """The raw ``text`` (or ``caption``) parameter as sent, HTML tags included."""
        value = self.params.get("text", self.params.get("caption"))
        return None if value is None else str(value)

    @property
    def visible_text(self) -> str | None:
        """What the user sees: the message text after HTML parsing (successful calls only)."""
        if isinstance(self.result, dict):
            return self.result.get("text", self.result.get("caption"))
        return None

    @property
    def parse_mode(self) -> str | None:
        return self.params.get("parse_mode")

    @property
    def message_id(self) -> int | None:
        if isinstance(self.result, dict) and "message_id" in self.result:
            return int(self.result["message_id"])
        value = self.params.get("message_id")
        return None if value is None else int(value)

    @property
    def reply_markup(self) -> dict[str, Any] | None:
        value = self.params.get("reply_markup")
        return value if isinstance(value, dict) else None

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """Inline keyboard buttons, flattened row by row."""
        markup = self.reply_markup or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    @property
    def callback_data(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]

    def button(self, text_contains: str) -> dict[str, Any]:
        """The first inline button whose text contains ``text_contains`` (AssertionError if none)."""
        for b in self.buttons:
            if text_contains in b.get("text", ""):
                return b
        raise AssertionError(f"no button containing {text_contains!r} in {self.buttons!r}")


@dataclass(slots=True)
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    file_name: str | None = None
    mime_type: str | None = None


@dataclass(slots=True)
class _Injection:
    method: str
    error_code: int | None
    description: str | None
    retry_after: float | None
    times: int
    drop_connection: bool
    delay: float


@dataclass(slots=True)
class _Update:
    update_id: int
    payload: dict[str, Any]
    forced: bool = False  # redelivery of an old update_id: served once regardless of ``offset``


class _ApiError(Exception):
    def __init__(self, code: int, description: str, *, retry_after: float | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


@dataclass(slots=True)
class _WebhookState:
    url: str = ""
    secret_token: str | None = None
    allowed_updates: list[str] | None = None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


_NO_PROXY_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def post_update_to(
    url: str, update: Mapping[str, Any], *, secret_token: str | None = None, timeout: float = 10.0
) -> int:
    """POST one update to a bot's webhook (loopback only) like Telegram does; returns the HTTP status."""
    host = urllib.parse.urlsplit(url).hostname or ""
    if host not in _LOOPBACK_HOSTS:
        raise ValueError(f"refusing to post an update to non-loopback URL {url!r}")
    request = urllib.request.Request(
        url,
        data=json.dumps(update, ensure_ascii=False).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    if secret_token:
        request.add_header("X-Telegram-Bot-Api-Secret-Token", secret_token)
    try:
        with _NO_PROXY_OPENER.open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


async def post_update_to_async(
    url: str, update: Mapping[str, Any], *, secret_token: str | None = None, timeout: float = 10.0
) -> int:
    """:func:`post_update_to` from async code: a blocking POST would freeze the loop PTB's webhook server
    runs on."""
    return await asyncio.to_thread(post_update_to, url, update, secret_token=secret_token, timeout=timeout)


# --------------------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # PTB opens up to 256 pooled connections at once with concurrent updates; the stdlib default backlog of
    # 5 then overflows and the client sees connection resets (httpx.ReadError → NetworkError).
    request_queue_size = 1024
    fake: FakeBotAPI


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: PTB's httpx pool reuses connections
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid the 40 ms delayed-ACK stall
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.fake._track(self.connection, add=False)

    def do_POST(self) -> None:
        self.server.fake._serve(self)

    do_GET = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake bot api: " + format, *args)


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
        handler.wfile.flush()
    except OSError:  # the client gave up (e.g. PTB cancelled a long poll on shutdown)
        handler.close_connection = True


def _decode_param(key: str, raw: str) -> Any:
    if key in _STRING_PARAMS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    params: dict[str, Any] = {}
    files: dict[str, UploadedFile] = {}
    for part in message.iter_parts():
        name = str(part.get_param("name", header="content-disposition") or "")
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            # httpx writes raw UTF-8 in the header; the email parser hands it back surrogate-escaped.
            with contextlib.suppress(UnicodeError):
                filename = filename.encode("utf-8", "surrogateescape").decode("utf-8")
            files[name] = UploadedFile(name, filename, part.get_content_type(), content)
        else:
            params[name] = _decode_param(name, content.decode("utf-8"))
    return params, files


# --------------------------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------------------------


class FakeBotAPI:
    """A thread-safe fake Bot API server. Test-side methods may be called from any thread.

    In ``async`` tests (where PTB runs on the test's event loop) use the ``*_async`` wait helpers:
    the blocking ones would freeze the loop the bot needs to answer.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        port: int = 0,
        strict_html: bool = True,
        deliver_webhooks: bool = True,
    ) -> None:
        self._token = token
        self._port = port
        self.strict_html = strict_html
        self.deliver_webhooks = deliver_webhooks
        self._cond = threading.Condition(threading.RLock())
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._webhook_thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._closing = False
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 123456789
        self.bot_user: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._reset_state()

    def _reset_state(self) -> None:
        self._calls: list[ApiCall] = []
        self._updates: list[_Update] = []
        self._update_log: dict[int, dict[str, Any]] = {}
        self._next_update_id = 1
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._next_message_id: dict[int, int] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        self._blocked: set[int] = set()
        self._open_callbacks: set[str] = set()
        self._files: dict[str, _StoredFile] = {}
        self._file_counter = itertools.count(1)
        self._callback_counter = itertools.count(1)
        self._injections: list[_Injection] = []
        self._commands: dict[str, list[dict[str, Any]]] = {}
        self._webhook = _WebhookState()
        self._held: list[str] = []  # methods of calls that arrived and are held by a ``delay`` injection

    # ---- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> FakeBotAPI:
        if self._server is not None:
            return self
        self._closing = False
        server = _Server(("127.0.0.1", self._port), _Handler)
        server.fake = self
        self._server = server
        self._port = int(server.server_address[1])
        # A short poll interval keeps stop() fast (serve_forever checks for shutdown every interval).
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeBotAPI", daemon=True
        )
        self._thread.start()
        self._webhook_thread = threading.Thread(
            target=self._webhook_loop, name="FakeBotAPI-webhook", daemon=True
        )
        self._webhook_thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()  # wake long polls and the webhook loop
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._cond:
            connections = list(self._connections)
        for conn in connections:  # idle keep-alive connections would otherwise linger
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for thread in (self._thread, self._webhook_thread):
            if thread is not None:
                thread.join(timeout=5)
        self._thread = self._webhook_thread = None

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def token(self) -> str:
        return self._token

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self._port}/file/bot"

    def env(self) -> dict[str, str]:
        """Environment variables pointing ``bot.settings.Settings`` at this fake."""
        return {
            "TELEGRAM_BOT_TOKEN": self._token,
            "TELEGRAM_API_BASE_URL": self.base_url,
            "TELEGRAM_API_BASE_FILE_URL": self.base_file_url,
        }

    def application_builder(self) -> ApplicationBuilder:
        """A PTB ``ApplicationBuilder`` with token, base_url and base_file_url pointing at this fake."""
        from telegram.ext import ApplicationBuilder

        return (
            ApplicationBuilder().token(self._token).base_url(self.base_url).base_file_url(self.base_file_url)
        )

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._cond:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # ---- test side: updates ----------------------------------------------------------------------------

    def push_message(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "测试用户",
        last_name: str | None = None,
        username: str | None = None,
        entities: list[dict[str, Any]] | None = None,
        reply_to_message_id: int | None = None,
        chat_title: str | None = None,
    ) -> int:
        """Enqueue a text message from a user; returns the update_id."""
        with self._cond:
            msg = self._user_message(
                user_id,
                chat_id=chat_id,
                chat_type=chat_type,
                first_name=first_name,
                last_name=last_name,
                username=username,
                chat_title=chat_title,
                reply_to_message_id=reply_to_message_id,
            )
            msg["text"] = text
            if entities:
                msg["entities"] = entities
            return self._enqueue({"message": msg})

    def push_command(self, user_id: int, command: str, args: str = "", **kwargs: Any) -> int:
        """Enqueue ``/command args`` with its ``bot_command`` entity (keywords as in :meth:`push_message`)."""
        head = "/" + command.lstrip("/")
        text = f"{head} {args}" if args else head
        entity = {"type": "bot_command", "offset": 0, "length": utf16_len(head)}
        return self.push_message(user_id, text, entities=[entity], **kwargs)

    def push_edit(self, user_id: int, message_id: int, text: str, *, chat_id: int | None = None) -> int:
        """Enqueue an ``edited_message`` update: the user edited their message `message_id` to `text`
        (same message id and date, an ``edit_date``; a leading ``/command`` gets its entity). Returns the
        update_id. `message_id` is the user's message, e.g. ``fake.message_id_of(update_id)``."""
        with self._cond:
            key = (chat_id if chat_id is not None else user_id, message_id)
            if key not in self._messages:
                raise KeyError(f"no message {message_id} in chat {key[0]}")
            msg = json.loads(json.dumps(self._messages[key]))
            msg["text"] = text
            msg["edit_date"] = max(int(time.time()), int(msg.get("date", 0)) + 1)
            msg.pop("entities", None)
            if text.startswith("/"):
                head = text.split(maxsplit=1)[0]
                msg["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(head)}]
            self._messages[key] = msg
            return self._enqueue({"edited_message": msg})

    def message_id_of(self, update_id: int) -> int:
        """The message id of a message (or edited message) update pushed earlier."""
        with self._cond:
            update = self._update_log[update_id]
            msg = update.get("message") or update.get("edited_message")
            if not isinstance(msg, dict):
                raise KeyError(f"update {update_id} carries no message")
            return int(msg["message_id"])

    def push_callback(
        self,
        user_id: int,
        data: str,
        *,
        message: int | ApiCall | Mapping[str, Any],
        chat_id: int | None = None,
        first_name: str = "测试用户",
        username: str | None = None,
    ) -> int:
        """Enqueue a button press on a bot message (message_id in the user's chat, an ApiCall or a dict)."""
        with self._cond:
            user = self._remember_user(user_id, first_name=first_name, username=username)
            if isinstance(message, int):
                key = (chat_id if chat_id is not None else user_id, message)
                if key not in self._messages:
                    raise KeyError(f"no message {message} in chat {key[0]}")
                msg = self._messages[key]
            elif isinstance(message, ApiCall):
                if not isinstance(message.result, dict):
                    raise ValueError(f"{message.method} did not return a message")
                key = (int(message.result["chat"]["id"]), int(message.result["message_id"]))
                msg = self._messages.get(key, message.result)
            else:
                msg = dict(message)
            query_id = str(4_000_000_000 + next(self._callback_counter))
            self._open_callbacks.add(query_id)
            query = {
                "id": query_id,
                "from": user,
                "message": json.loads(json.dumps(msg)),
                "chat_instance": str(-abs(int(msg["chat"]["id"])) * 7919),
                "data": data,
            }
            return self._enqueue({"callback_query": query})

    def push_document(
        self,
        user_id: int,
        filename: str,
        content: bytes,
        mime_type: str = "application/octet-stream",
        *,
        caption: str | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "测试用户",
        username: str | None = None,
    ) -> int:
        """Enqueue a document message; the file is downloadable via getFile + the file URL."""
        with self._cond:
            stored = self._store_file(content, file_name=filename, mime_type=mime_type)
            msg = self._user_message(
                user_id, chat_id=chat_id, chat_type=chat_type, first_name=first_name, username=username
            )
            msg["document"] = self._document_dict(stored)
            if caption is not None:
                msg["caption"] = caption
            return self._enqueue({"message": msg})

    def push_raw(self, update: Mapping[str, Any]) -> int:
        """Enqueue an update verbatim. An already used ``update_id`` is served once more regardless of the
        bot's ``offset`` (Telegram redelivering an update the bot did not confirm): idempotency tests."""
        with self._cond:
            payload = json.loads(json.dumps(dict(update)))
            if "update_id" not in payload:
                return self._enqueue(payload)
            update_id = int(payload["update_id"])
            forced = update_id < self._next_update_id
            self._next_update_id = max(self._next_update_id, update_id + 1)
            self._updates.append(_Update(update_id, payload, forced=forced))
            self._update_log[update_id] = payload
            self._cond.notify_all()
            return update_id

    def update(self, update_id: int) -> dict[str, Any]:
        """The full JSON of an update pushed earlier (e.g. to redeliver it with :meth:`push_raw`)."""
        with self._cond:
            return json.loads(json.dumps(self._update_log[update_id]))

    @property
    def pending_updates(self) -> int:
        """Updates not yet confirmed: polling confirms a batch only with the NEXT getUpdates' offset."""
        with self._cond:
            return len(self._updates)

    def block_chat(self, chat_id: int) -> None:
        """Sending to this chat now fails with 403 "Forbidden: bot was blocked by the user"."""
        with self._cond:
            self._blocked.add(chat_id)

    # ---- test side: failures ---------------------------------------------------------------------------

    def inject_error(
        self,
        method: str,
        error_code: int | None = 429,
        *,
        retry_after: float | None = 1,
        times: int = 1,
        description: str | None = None,
        drop_connection: bool = False,
        delay: float = 0.0,
    ) -> None:
        """Make the next ``times`` calls of ``method`` ("*" = any but getUpdates) fail.

        ``error_code=429`` answers with ``parameters.retry_after`` (→ PTB RetryAfter); 5xx → NetworkError;
        ``drop_connection=True`` closes the socket without answering (→ NetworkError); ``delay`` sleeps before
        answering (with ``error_code=None`` it only delays; longer than PTB's read timeout → TimedOut).
        """
        with self._cond:
            self._injections.append(
                _Injection(
                    method.lower(),
                    error_code,
                    description,
                    retry_after if error_code == 429 else None,
                    times,
                    drop_connection,
                    delay,
                )
            )

    def _take_injection(self, method: str) -> _Injection | None:
        with self._cond:
            for inj in self._injections:
                if inj.method == method.lower() or (inj.method == "*" and method.lower() != "getupdates"):
                    inj.times -= 1
                    if inj.times <= 0:
                        self._injections.remove(inj)
                    return inj
        return None

    # ---- test side: inspection -------------------------------------------------------------------------

    @property
    def requests(self) -> list[ApiCall]:
        """Every recorded call, getUpdates included."""
        with self._cond:
            return list(self._calls)

    @property
    def sent(self) -> list[ApiCall]:
        """Every recorded call except getUpdates (which polling makes constantly)."""
        with self._cond:
            return [c for c in self._calls if c.method.lower() != "getupdates"]

    def calls(
        self, method: str | None = None, *, chat_id: int | None = None, ok: bool | None = None, since: int = 0
    ) -> list[ApiCall]:
        """Recorded calls (not getUpdates) filtered by method (case-insensitive), chat, success, seq."""
        return [
            c
            for c in self.sent
            if (method is None or c.method.lower() == method.lower())
            and (chat_id is None or c.chat_id == chat_id)
            and (ok is None or c.ok == ok)
            and c.seq >= since
        ]

    def messages_to(self, chat_id: int, *, since: int = 0) -> list[ApiCall]:
        """Successful send* calls (not sendChatAction) that delivered a message to ``chat_id``."""
        return [
            c
            for c in self.sent
            if c.ok
            and c.method.lower().startswith("send")
            and c.method.lower() != "sendchataction"
            and c.chat_id == chat_id
            and c.seq >= since
        ]

    def mark(self) -> int:
        """A position in the call log; pass it as ``since=`` to only look at later calls."""
        with self._cond:
            return len(self._calls)

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """Current state of a message (after edits), or None if unknown/deleted."""
        with self._cond:
            msg = self._messages.get((chat_id, message_id))
            return None if msg is None else json.loads(json.dumps(msg))

    @property
    def commands(self) -> list[dict[str, Any]]:
        """Commands registered with setMyCommands for the default scope and no language."""
        with self._cond:
            return list(self._commands.get(self._commands_key({}), []))

    def commands_for(
        self, *, scope: Mapping[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        with self._cond:
            params: dict[str, Any] = {"language_code": language_code}
            if scope is not None:
                params["scope"] = dict(scope)
            return list(self._commands.get(self._commands_key(params), []))

    @property
    def webhook_url(self) -> str:
        with self._cond:
            return self._webhook.url

    def wait_for(
        self, predicate: Callable[[ApiCall], bool], timeout: float = 10.0, *, since: int = 0
    ) -> ApiCall:
        """Block until a recorded call (getUpdates included) with seq >= since satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for call in self._calls[since:]:
                    if predicate(call):
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(c.method, c.ok, c.description) for c in self.sent][-20:]
                    raise TimeoutError(f"no matching Bot API call within {timeout}s; calls so far: {seen}")
                self._cond.wait(remaining)

    def wait_for_messages(
        self, chat_id: int, count: int, timeout: float = 10.0, *, since: int = 0, raise_on_error: bool = True
    ) -> list[ApiCall]:
        """Block until at least ``count`` messages were delivered to ``chat_id``; returns them all.

        With ``raise_on_error`` a 400/403 answer to a call for that chat fails fast with AssertionError
        (e.g. the bot sent malformed HTML) instead of waiting for the timeout; 429/5xx/dropped calls are
        transient and ignored.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = self.messages_to(chat_id, since=since)
                if len(found) >= count:
                    return found
                if raise_on_error:
                    for call in self._calls[since:]:
                        if not call.ok and call.error_code in (400, 403) and call.chat_id == chat_id:
                            raise AssertionError(
                                f"{call.method} to chat {chat_id} failed: {call.description}"
                            )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(c.method, c.chat_id, c.ok, c.description) for c in self.sent][-20:]
                    raise TimeoutError(
                        f"expected {count} message(s) to chat {chat_id} within {timeout}s, got {len(found)}; "
                        f"last calls: {seen}"
                    )
                self._cond.wait(remaining)

    async def wait_for_async(
        self, predicate: Callable[[ApiCall], bool], timeout: float = 10.0, *, since: int = 0
    ) -> ApiCall:
        """:meth:`wait_for` without blocking the event loop PTB runs on."""
        return await asyncio.to_thread(self.wait_for, predicate, timeout, since=since)

    async def wait_for_messages_async(
        self, chat_id: int, count: int, timeout: float = 10.0, *, since: int = 0, raise_on_error: bool = True
    ) -> list[ApiCall]:
        """:meth:`wait_for_messages` without blocking the event loop PTB runs on."""
        return await asyncio.to_thread(
            self.wait_for_messages, chat_id, count, timeout, since=since, raise_on_error=raise_on_error
        )

    async def wait_until_consumed_async(self, timeout: float = 10.0) -> None:
        """Wait until every update is confirmed (polling: by a later getUpdates offset) or delivered."""
        await asyncio.to_thread(self.wait_until_consumed, timeout)

    def wait_until_consumed(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._updates:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{len(self._updates)} update(s) still pending after {timeout}s")
                self._cond.wait(remaining)

    def wait_for_held_call(self, method: str, timeout: float = 10.0) -> None:
        """Block until a call of ``method`` arrived and is being held by a ``delay`` injection (the bot
        sent it and waits for the answer): e.g. to kill the bot while its reply is in flight."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while method.lower() not in self._held:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {method} call held within {timeout}s")
                self._cond.wait(remaining)

    def clear(self) -> None:
        """Forget recorded calls (chats, messages, files and pending updates are kept)."""
        with self._cond:
            self._calls.clear()

    # ---- request handling ------------------------------------------------------------------------------

    def _serve(self, handler: _Handler) -> None:
        split = urllib.parse.urlsplit(handler.path)
        path = urllib.parse.unquote(split.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        file_prefix = f"/file/bot{self._token}/"
        if path.startswith("/file/bot"):
            self._serve_file(handler, path[len(file_prefix) :] if path.startswith(file_prefix) else None)
            return
        m = re.fullmatch(r"/bot([^/]+)/([A-Za-z0-9_]+)/?", path)
        if m is None:
            _send(
                handler, 404, b'{"ok":false,"error_code":404,"description":"Not Found"}', "application/json"
            )
            return
        if m.group(1) != self._token:
            _send(
                handler,
                401,
                b'{"ok":false,"error_code":401,"description":"Unauthorized"}',
                "application/json",
            )
            return
        method = m.group(2)
        try:
            params, files = self._decode_request(handler, split.query, body)
        except (ValueError, UnicodeError) as exc:
            self._respond_error(
                handler, method, {}, {}, _ApiError(400, f"Bad Request: can't parse request: {exc}")
            )
            return

        injection = self._take_injection(method)
        if injection is not None:
            if injection.delay:
                with self._cond:
                    self._held.append(method.lower())
                    self._cond.notify_all()
                time.sleep(injection.delay)
            if injection.drop_connection:
                self._record(
                    method,
                    params,
                    files,
                    ok=False,
                    error_code=None,
                    description="connection dropped by FakeBotAPI.inject_error",
                )
                handler.close_connection = True
                with contextlib.suppress(OSError):
                    handler.connection.shutdown(socket.SHUT_RDWR)
                return
            if injection.error_code is not None:
                code = injection.error_code
                description = injection.description or _default_description(code, injection.retry_after)
                self._respond_error(
                    handler,
                    method,
                    params,
                    files,
                    _ApiError(code, description, retry_after=injection.retry_after),
                )
                return

        try:
            if method.lower() == "getupdates":
                result: Any = self._get_updates(params)
            else:
                with self._cond:
                    result = self._dispatch(method, params, files)
        except _ApiError as exc:
            self._respond_error(handler, method, params, files, exc)
            return
        except Exception as exc:  # a bug in the fake must show up as a loud 500, not a hang
            logger.exception("FakeBotAPI failed on %s", method)
            self._respond_error(
                handler, method, params, files, _ApiError(500, f"Internal Server Error: {exc!r}")
            )
            return
        self._record(method, params, files, ok=True, result=result)
        payload = json.dumps({"ok": True, "result": result}, ensure_ascii=False).encode()
        _send(handler, 200, payload, "application/json")

    def _decode_request(
        self, handler: _Handler, query: str, body: bytes
    ) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
        content_type = handler.headers.get("Content-Type", "")
        params: dict[str, Any] = {k: _decode_param(k, v) for k, v in urllib.parse.parse_qsl(query)}
        files: dict[str, UploadedFile] = {}
        if content_type.startswith("multipart/form-data"):
            extra, files = _parse_multipart(content_type, body)
            params.update(extra)
        elif content_type.startswith("application/json") and body:
            decoded = json.loads(body)
            if not isinstance(decoded, dict):
                raise ValueError("JSON body must be an object")
            params.update(decoded)
        elif body:
            params.update(
                {
                    k: _decode_param(k, v)
                    for k, v in urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
                }
            )
        return params, files

    def _respond_error(
        self,
        handler: _Handler,
        method: str,
        params: dict[str, Any],
        files: dict[str, UploadedFile],
        exc: _ApiError,
    ) -> None:
        self._record(method, params, files, ok=False, error_code=exc.code, description=exc.description)
        payload: dict[str, Any] = {"ok": False, "error_code": exc.code, "description": exc.description}
        if exc.retry_after is not None:
            payload["parameters"] = {"retry_after": exc.retry_after}
        _send(handler, exc.code, json.dumps(payload, ensure_ascii=False).encode(), "application/json")

    def _record(
        self,
        method: str,
        params: dict[str, Any],
        files: dict[str, UploadedFile],
        *,
        ok: bool,
        result: Any = None,
        error_code: int | None = None,
        description: str | None = None,
    ) -> None:
        with self._cond:
            self._calls.append(
                ApiCall(
                    method,
                    params,
                    files,
                    ok,
                    json.loads(json.dumps(result)),
                    error_code,
                    description,
                    seq=len(self._calls),
                )
            )
            self._cond.notify_all()

    def _serve_file(self, handler: _Handler, file_path: str | None) -> None:
        with self._cond:
            stored = next((f for f in self._files.values() if f.file_path == file_path), None)
        if stored is None:
            _send(
                handler, 404, b'{"ok":false,"error_code":404,"description":"Not Found"}', "application/json"
            )
            return
        _send(handler, 200, stored.content, stored.mime_type or "application/octet-stream")

    # ---- long polling ----------------------------------------------------------------------------------

    def _get_updates(self, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._webhook.url:
                raise _ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()  # an older long poll still waiting is terminated with 409, like Telegram
            allowed = params.get("allowed_updates")
            if isinstance(allowed, list):
                self._allowed_updates = allowed or None
            self._confirm(offset)
            while True:
                if generation != self._poll_generation:
                    raise _ApiError(409, _CONFLICT_OTHER_POLL)
                batch = self._take_batch(limit)
                remaining = deadline - time.monotonic()
                if batch or self._closing or remaining <= 0:
                    return batch
                self._cond.wait(remaining)

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            kept = [u for u in self._updates if u.update_id >= offset or u.forced]
        elif offset < 0:
            kept = self._updates[offset:]
        else:
            return
        if len(kept) != len(self._updates):
            self._updates = kept
            self._cond.notify_all()

    def _is_allowed(self, payload: Mapping[str, Any], allowed: list[str] | None) -> bool:
        kind = next((k for k in payload if k != "update_id"), "")
        return kind in allowed if allowed else kind not in _DEFAULT_EXCLUDED_UPDATES

    def _take_batch(self, limit: int, allowed: list[str] | None = None) -> list[dict[str, Any]]:
        allowed = allowed if allowed is not None else self._allowed_updates
        # Forced redeliveries first, so the batch still ends with the highest update_id and PTB's next
        # offset (last update_id + 1) does not make newer updates come back.
        forced = [u for u in self._updates if u.forced]
        normal = [u for u in self._updates if not u.forced and self._is_allowed(u.payload, allowed)]
        batch = (forced + normal)[:limit]
        for u in batch:
            if u.forced:
                self._updates.remove(u)
        if any(u.forced for u in batch):
            self._cond.notify_all()
        return [json.loads(json.dumps(u.payload)) for u in batch]

    # ---- webhook delivery ------------------------------------------------------------------------------

    def _webhook_loop(self) -> None:
        while True:
            with self._cond:
                while not self._closing and not (
                    self.deliver_webhooks and self._webhook.url and self._has_deliverable()
                ):
                    self._cond.wait()
                if self._closing:
                    return
                url, secret = self._webhook.url, self._webhook.secret_token
                forced = [u for u in self._updates if u.forced]
                normal = [
                    u
                    for u in self._updates
                    if not u.forced and self._is_allowed(u.payload, self._webhook.allowed_updates)
                ]
                update = (forced + normal)[0]
            host = urllib.parse.urlsplit(url).hostname or ""
            if host not in _LOOPBACK_HOSTS:
                self._webhook_failed(f"FakeBotAPI only delivers webhooks to loopback, not {host!r}")
                continue
            try:
                status = post_update_to(url, update.payload, secret_token=secret, timeout=10)
            except OSError as exc:
                self._webhook_failed(f"Connection failed: {exc}")
                continue
            if 200 <= status < 300:
                with self._cond:
                    if update in self._updates:
                        self._updates.remove(update)
                    self._cond.notify_all()
            else:
                self._webhook_failed(f"Wrong response from the webhook: {status}")

    def _has_deliverable(self) -> bool:
        return any(
            u.forced or self._is_allowed(u.payload, self._webhook.allowed_updates) for u in self._updates
        )

    def _webhook_failed(self, message: str) -> None:
        with self._cond:
            self._webhook.last_error_date = int(time.time())
            self._webhook.last_error_message = message
            self._cond.wait(0.2)  # retry soon, but don't spin

    # ---- method dispatch (called with the lock held) ---------------------------------------------------

    def _dispatch(self, method: str, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None:
            raise _ApiError(404, "Not Found: method not found")
        return handler(params, files)

    def _m_getme(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return dict(self.bot_user)

    def _m_logout(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return True

    _m_close = _m_logout

    def _m_deletewebhook(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._webhook = _WebhookState()
        self._cond.notify_all()
        return True

    def _m_setwebhook(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.fullmatch(str(secret)):
            raise _ApiError(400, "Bad Request: secret token contains unallowed characters")
        if url and urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
            raise _ApiError(
                400, "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )
        if params.get("drop_pending_updates"):
            self._updates.clear()
        allowed = params.get("allowed_updates")
        self._webhook = _WebhookState(
            url=url,
            secret_token=str(secret) if secret else None,
            allowed_updates=allowed if isinstance(allowed, list) and allowed else None,
            max_connections=int(params.get("max_connections") or 40),
        )
        self._cond.notify_all()
        return True

    def _m_getwebhookinfo(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        info: dict[str, Any] = {
            "url": self._webhook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook.url:
            info["max_connections"] = self._webhook.max_connections
            if self._webhook.allowed_updates:
                info["allowed_updates"] = self._webhook.allowed_updates
        if self._webhook.last_error_message:
            info["last_error_date"] = self._webhook.last_error_date
            info["last_error_message"] = self._webhook.last_error_message
        return info

    @staticmethod
    def _commands_key(params: Mapping[str, Any]) -> str:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)

    def _m_setmycommands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _ApiError(400, "Bad Request: can't parse commands JSON object")
        for cmd in commands:
            if not isinstance(cmd, dict) or not _COMMAND_RE.fullmatch(str(cmd.get("command", ""))):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            description = str(cmd.get("description", ""))
            if not 1 <= len(description) <= 256:
                raise _ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _m_getmycommands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        return list(self._commands.get(self._commands_key(params), []))

    def _m_deletemycommands(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        self._commands.pop(self._commands_key(params), None)
        return True

    def _checked_text(self, params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        """Parse a message text as Telegram does; empty, malformed or too long → the same 400s."""
        raw = params.get("text")
        if raw is None or str(raw) == "":
            raise _ApiError(400, "Bad Request: message text is empty")
        visible, entities = self._format(str(raw), params.get("parse_mode"), params.get("entities"))
        if not visible.strip():
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(visible) > MAX_TEXT_LENGTH:
            raise _ApiError(400, "Bad Request: message is too long")
        return visible, entities

    def _m_sendmessage(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._target_chat(params)
        visible, entities = self._checked_text(params)
        markup = self._check_markup(params.get("reply_markup"))
        msg = self._bot_message(chat, params)
        msg["text"] = visible
        if entities:
            msg["entities"] = entities
        if markup and "inline_keyboard" in markup:
            msg["reply_markup"] = markup
        return self._store_message(msg)

    def _m_senddocument(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        chat = self._target_chat(params)
        document = params.get("document")
        upload = files.get("document")
        if upload is None and isinstance(document, str) and document.startswith("attach://"):
            upload = files.get(document.removeprefix("attach://"))
        if upload is not None:
            stored = self._store_file(
                upload.content,
                file_name=upload.filename,
                mime_type=upload.content_type or "application/octet-stream",
            )
        elif isinstance(document, str) and document in self._files:
            stored = self._files[document]
        else:
            raise _ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        markup = self._check_markup(params.get("reply_markup"))
        msg = self._bot_message(chat, params)
        msg["document"] = self._document_dict(stored)
        self._apply_caption(msg, params)
        if markup and "inline_keyboard" in markup:
            msg["reply_markup"] = markup
        return self._store_message(msg)

    def _m_sendphoto(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        """A photo upload (multipart, `photo` or `attach://name`) or a known file_id; the message carries
        one PhotoSize per stored photo (Telegram sends several sizes; one is enough for tests)."""
        chat = self._target_chat(params)
        photo = params.get("photo")
        upload = files.get("photo")
        if upload is None and isinstance(photo, str) and photo.startswith("attach://"):
            upload = files.get(photo.removeprefix("attach://"))
        if upload is not None:
            if not upload.content:
                raise _ApiError(400, "Bad Request: file must be non-empty")
            stored = self._store_file(
                upload.content, file_name=upload.filename, mime_type=upload.content_type or "image/png"
            )
        elif isinstance(photo, str) and photo in self._files:
            stored = self._files[photo]
        else:
            raise _ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        markup = self._check_markup(params.get("reply_markup"))
        msg = self._bot_message(chat, params)
        size = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        msg["photo"] = [{**size, "file_size": len(stored.content), "width": 0, "height": 0}]
        self._apply_caption(msg, params)
        if markup and "inline_keyboard" in markup:
            msg["reply_markup"] = markup
        return self._store_message(msg)

    def _m_sendchataction(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        self._target_chat(params)
        if params.get("action") not in _CHAT_ACTIONS:
            raise _ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    def _m_editmessagetext(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        msg = self._editable_message(params)
        visible, entities = self._checked_text(params)
        markup = self._check_markup(params.get("reply_markup"))
        # Like Telegram: editing the text without passing reply_markup removes the inline keyboard.
        new_markup = markup if markup and "inline_keyboard" in markup else None
        if (
            msg.get("text") == visible
            and (msg.get("entities") or []) == entities
            and msg.get("reply_markup") == new_markup
        ):
            raise _ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        msg["text"] = visible
        msg.pop("entities", None)
        if entities:
            msg["entities"] = entities
        self._set_markup(msg, new_markup)
        msg["edit_date"] = int(time.time())
        return json.loads(json.dumps(msg))

    def _m_editmessagereplymarkup(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        msg = self._editable_message(params)
        markup = self._check_markup(params.get("reply_markup"))
        new_markup = markup if markup and "inline_keyboard" in markup else None
        if msg.get("reply_markup") == new_markup:
            raise _ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        self._set_markup(msg, new_markup)
        msg["edit_date"] = int(time.time())
        return json.loads(json.dumps(msg))

    def _m_deletemessage(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        key = (self._int_param(params, "chat_id"), self._int_param(params, "message_id"))
        if self._messages.pop(key, None) is None:
            raise _ApiError(400, "Bad Request: message to delete not found")
        return True

    def _m_answercallbackquery(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._open_callbacks:
            raise _ApiError(
                400, "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        if len(str(params.get("text") or "")) > 200:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self._open_callbacks.discard(query_id)
        return True

    def _m_getfile(self, params: dict[str, Any], files: dict[str, UploadedFile]) -> Any:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        if len(stored.content) > MAX_DOWNLOAD_BYTES:
            raise _ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    # ---- helpers (lock held) ---------------------------------------------------------------------------

    def _enqueue(self, body: dict[str, Any]) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        payload = {"update_id": update_id, **body}
        self._updates.append(_Update(update_id, payload))
        self._update_log[update_id] = payload
        self._cond.notify_all()
        return update_id

    def _remember_user(
        self,
        user_id: int,
        *,
        first_name: str = "测试用户",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str = "zh-hans",
    ) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name,
            "language_code": language_code,
        }
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        self._users[user_id] = user
        return user

    def _user_message(
        self,
        user_id: int,
        *,
        chat_id: int | None,
        chat_type: str,
        first_name: str,
        username: str | None,
        last_name: str | None = None,
        chat_title: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        user = self._remember_user(user_id, first_name=first_name, last_name=last_name, username=username)
        if chat_id is None:
            chat_id = user_id if chat_type == "private" else -(1_000_000_000_000 + abs(user_id))
        if chat_type == "private":
            chat = {k: v for k, v in user.items() if k in {"id", "first_name", "last_name", "username"}}
            chat["id"] = chat_id
            chat["type"] = "private"
        else:
            chat = {"id": chat_id, "type": chat_type, "title": chat_title or "测试群"}
        self._chats[chat_id] = chat
        msg: dict[str, Any] = {
            "message_id": self._new_message_id(chat_id),
            "from": user,
            "date": int(time.time()),
            "chat": chat,
        }
        if reply_to_message_id is not None and (chat_id, reply_to_message_id) in self._messages:
            msg["reply_to_message"] = self._shallow(self._messages[(chat_id, reply_to_message_id)])
        self._messages[(chat_id, msg["message_id"])] = msg
        return msg

    def _new_message_id(self, chat_id: int) -> int:
        next_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = next_id + 1
        return next_id

    @staticmethod
    def _shallow(msg: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in msg.items() if k != "reply_to_message"}

    @staticmethod
    def _int_param(params: Mapping[str, Any], name: str) -> int:
        value = params.get(name)
        if value is None or value == "":
            raise _ApiError(400, f"Bad Request: {name} is empty")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _ApiError(400, f"Bad Request: invalid {name} specified") from None

    def _target_chat(self, params: Mapping[str, Any]) -> dict[str, Any]:
        value = params.get("chat_id")
        if value is None or value == "":
            raise _ApiError(400, "Bad Request: chat_id is empty")
        if isinstance(value, str) and value.startswith("@"):
            raise _ApiError(400, "Bad Request: chat not found")
        chat_id = self._int_param(params, "chat_id")
        if chat_id in self._blocked:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        chat = self._chats.get(chat_id)
        if chat is None:  # a chat the test never mentioned: synthesize a plausible one
            chat = (
                {"id": chat_id, "type": "private", "first_name": f"用户{chat_id}"}
                if chat_id > 0
                else {"id": chat_id, "type": "supergroup", "title": "测试群"}
            )
            self._chats[chat_id] = chat
        return chat

    def _bot_message(self, chat: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
        chat_id = int(chat["id"])
        msg: dict[str, Any] = {
            "message_id": self._new_message_id(chat_id),
            "from": dict(self.bot_user),
            "date": int(time.time()),
            "chat": dict(chat),
        }
        reply_to: int | None = None
        allow_without = bool(params.get("allow_sending_without_reply"))
        reply_parameters = params.get("reply_parameters")
        if isinstance(reply_parameters, dict) and reply_parameters.get("message_id") is not None:
            reply_to = int(reply_parameters["message_id"])
            allow_without = allow_without or bool(reply_parameters.get("allow_sending_without_reply"))
        elif params.get("reply_to_message_id") is not None:
            reply_to = int(params["reply_to_message_id"])
        if reply_to is not None:
            replied = self._messages.get((chat_id, reply_to))
            if replied is None and not allow_without:
                self._next_message_id[chat_id] -= 1
                raise _ApiError(400, "Bad Request: message to be replied not found")
            if replied is not None:
                msg["reply_to_message"] = self._shallow(replied)
        return msg

    def _store_message(self, msg: dict[str, Any]) -> dict[str, Any]:
        self._messages[(int(msg["chat"]["id"]), int(msg["message_id"]))] = msg
        return json.loads(json.dumps(msg))

    def _editable_message(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if params.get("inline_message_id"):
            raise _ApiError(400, "Bad Request: MESSAGE_ID_INVALID")
        key = (self._int_param(params, "chat_id"), self._int_param(params, "message_id"))
        msg = self._messages.get(key)
        if msg is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        if msg.get("from", {}).get("id") != self.bot_user["id"]:
            raise _ApiError(400, "Bad Request: message can't be edited")
        return msg

    @staticmethod
    def _set_markup(msg: dict[str, Any], markup: dict[str, Any] | None) -> None:
        if markup is None:
            msg.pop("reply_markup", None)
        else:
            msg["reply_markup"] = markup

    def _format(self, raw: str, parse_mode: Any, entities: Any) -> tuple[str, list[dict[str, Any]]]:
        if entities:
            if not isinstance(entities, list):
                raise _ApiError(400, "Bad Request: can't parse entities JSON object")
            return raw, entities
        if parse_mode in (None, ""):
            return raw, []
        mode = str(parse_mode).lower()
        if mode == "html":
            try:
                return parse_telegram_html(raw, strict=self.strict_html)
            except HtmlParseError as exc:
                raise _ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        if mode in {"markdown", "markdownv2"}:
            return raw, []  # not validated: the bot uses HTML
        raise _ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode!r}")

    def _apply_caption(self, msg: dict[str, Any], params: Mapping[str, Any]) -> None:
        raw = params.get("caption")
        if raw is None or raw == "":
            return
        visible, entities = self._format(str(raw), params.get("parse_mode"), params.get("caption_entities"))
        if len(visible) > MAX_CAPTION_LENGTH:
            raise _ApiError(400, "Bad Request: message caption is too long")
        msg["caption"] = visible
        if entities:
            msg["caption_entities"] = entities

    @staticmethod
    def _check_markup(markup: Any) -> dict[str, Any] | None:
        if markup is None or markup == "":
            return None
        if isinstance(markup, str):
            try:
                markup = json.loads(markup)
            except ValueError:
                raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object") from None
        if not isinstance(markup, dict):
            raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _ApiError(
                    400,
                    'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup must be '
                    "an Array of Arrays",
                )
            for button in (b for row in rows for b in row):
                _check_inline_button(button)
        return markup

    def _store_file(self, content: bytes, *, file_name: str | None, mime_type: str | None) -> _StoredFile:
        n = next(self._file_counter)
        suffix = ""
        if file_name and "." in file_name:
            suffix = "." + file_name.rsplit(".", 1)[1]
        stored = _StoredFile(
            file_id=f"BQACAgFAKE{n:08d}",
            file_unique_id=f"AgADFAKE{n:06d}",
            file_path=f"documents/file_{n}{suffix}",
            content=bytes(content),
            file_name=file_name,
            mime_type=mime_type,
        )
        self._files[stored.file_id] = stored
        return stored

    @staticmethod
    def _document_dict(stored: _StoredFile) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
        }
        if stored.file_name:
            doc["file_name"] = stored.file_name
        if stored.mime_type:
            doc["mime_type"] = stored.mime_type
        return doc

    def file_content(self, file_id: str) -> bytes:
        """Bytes of a stored file (pushed by a test or uploaded by the bot with sendDocument)."""
        with self._cond:
            return self._files[file_id].content


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict) or not str(button.get("text") or "").strip():
        raise _ApiError(400, "Bad Request: can't parse inline keyboard button: Text must be non-empty")
    kinds = [k for k in _BUTTON_KINDS if k in button]
    if not kinds:
        raise _ApiError(
            400,
            "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the "
            "inline keyboard",
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
            raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    if "url" in button and not str(button["url"]).startswith(("http://", "https://", "tg://")):
        raise _ApiError(400, "Bad Request: BUTTON_URL_INVALID")


def _default_description(code: int, retry_after: float | None) -> str:
    if code == 429:
        return f"Too Many Requests: retry after {retry_after}"
    if code == 400:
        return "Bad Request: injected by FakeBotAPI"
    if code == 403:
        return "Forbidden: bot was blocked by the user"
    if code == 409:
        return _CONFLICT_OTHER_POLL
    if code >= 500:
        return "Internal Server Error" if code != 502 else "Bad Gateway"
    return f"Error {code} injected by FakeBotAPI"


@contextlib.asynccontextmanager
async def polling(
    application: Application[Any, Any, Any, Any, Any, Any], *, timeout: int = 1
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """Run ``application`` with long polling for the duration of the block, then shut down in PTB's order
    (updater.stop → application.stop → application.shutdown), also when the block raises."""
    async with application:
        await application.start()
        assert application.updater is not None, "build the Application with an Updater"
        await application.updater.start_polling(poll_interval=0, timeout=timeout)
        try:
            yield application
        finally:
            if application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()


def iter_texts(calls: Iterable[ApiCall]) -> list[str]:
    """The visible texts of a list of calls (handy in assertions)."""
    return [c.visible_text or "" for c in calls]
