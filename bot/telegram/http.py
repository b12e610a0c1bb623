"""PTB networking backend on aiohttp (a documented extension point: `telegram.request.BaseRequest`).

Why not PTB's default `HTTPXRequest`: measured end to end (bench/bench_bot.py), sending a reply through
httpx/httpcore cost about half of the bot's CPU per update, most of it in httpcore's per-request
connection-pool scan (a `getpeername`/readability probe of every pooled connection) and anyio's stream
layer. aiohttp (C HTTP parser, already a dependency of our LangChain stack) does the same request for
a fraction of that. Behaviour kept from `HTTPXRequest`: the same form-encoded / multipart bodies, the
same timeout meaning (read, connect, pool wait), the same error mapping (TimedOut, NetworkError) and
proxies from the environment.
"""

from __future__ import annotations

import logging
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from telegram._utils.defaultvalue import DEFAULT_NONE, DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

logger = logging.getLogger(__name__)


class AiohttpRequest(BaseRequest):
    """One aiohttp session with a bounded connection pool, created in `initialize` (inside the loop)."""

    __slots__ = (
        "_connect_timeout",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_proxies",
        "_read_timeout",
        "_session",
    )

    def __init__(
        self,
        *,
        connection_pool_size: int = 8,
        read_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 10.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        # scheme://host → proxy URL or None, from the environment at `initialize` (like httpx).
        self._proxies: dict[str, str | None] = {}

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
                # Every error status is read and raised by BaseRequest (as PTB's own backends do).
                raise_for_status=False,
                # Proxies from the environment are resolved by `_proxy_for`, once per host: aiohttp's
                # trust_env re-reads them on every request (~1 ms of CPU per reply).
                trust_env=False,
            )
        self._proxies = {}

    def _proxy_for(self, url: str) -> str | None:
        """Like httpx (PTB's default backend): HTTP(S)_PROXY / NO_PROXY from the environment apply,
        which is how a bank's egress proxy is usually configured."""
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        if key not in self._proxies:
            host = parts.hostname or ""
            proxy = urllib.request.getproxies().get(parts.scheme)
            self._proxies[key] = None if proxy is None or urllib.request.proxy_bypass(host) else proxy
        return self._proxies[key]

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        files = request_data.multipart_data if request_data is not None else None
        if files:
            # aiohttp has no separate write timeout: an upload's send counts against the read timeout,
            # so give it the media write allowance as well.
            write = self._media_write_timeout if isinstance(write_timeout, DefaultValue) else write_timeout
            read = None if read is None or write is None else read + write
        timeout = aiohttp.ClientTimeout(
            total=None,
            # aiohttp's `connect` covers waiting for a pooled connection plus opening a new one.
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )
        body: Any = None
        if request_data is not None:
            body = _body(request_data.json_parameters, files)
        try:
            proxy = self._proxy_for(url)
            async with session.request(method, url, data=body, timeout=timeout, proxy=proxy) as response:
                return response.status, await response.read()
        except TimeoutError as err:  # aiohttp's timeouts subclass it
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err


def _body(parameters: dict[str, str], files: dict[str, Any] | None) -> Any:
    """Form fields as PTB sends them (JSON-encoded values); multipart when there are files."""
    if not files:
        return parameters
    form = aiohttp.FormData()
    for name, value in parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in files.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form


class DelegatingRequest(BaseRequest):
    """A `BaseRequest` that hands every call to another one; subclasses add a step around `do_request`
    (the inbox write of a getUpdates batch, the leader fence)."""

    __slots__ = ("_inner",)

    def __init__(self, inner: BaseRequest) -> None:
        self._inner = inner

    @property
    def read_timeout(self) -> float | None:
        return self._inner.read_timeout

    async def initialize(self) -> None:
        await self._inner.initialize()

    async def shutdown(self) -> None:
        await self._inner.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        return await self._inner.do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )
