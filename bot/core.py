"""Small types every feature shares: the user-facing error, the bank's clock and one request.

Nothing here knows a front end: Telegram, the console twin and the CLI all build a `Request` and call
the same feature functions.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload
from zoneinfo import ZoneInfo

from crm_adapter import AccessDenied, CRMError, InvalidInput, NotFound, Staff, UnknownStaff

if TYPE_CHECKING:
    from knowledge import Answer, ClientFacts, Hit, IngestReport
    from knowledge.rules import Entitlement
    from knowledge.vectors import VectorProgress

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


class ServiceError(Exception):
    """A failure to show to the user as is (the message is Chinese and safe to display)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class Request:
    """One command, button or message as every front end hands it to a feature."""

    staff: Staff
    args: str = ""
    frontend: str = "telegram"  # "telegram" | "console" | "cli": also the `channel` stored in logs
    chat_id: int | None = None
    update_id: int | None = None
    private: bool = True
    #: The user's state between messages (a pick list waiting for its choice). Telegram: PTB's
    #: `context.user_data`, persisted with the Application (JSON values only); the console twin: its
    #: session's dict; the CLI: a throwaway dict.
    state: MutableMapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", clean_text(self.args))

    @property
    def words(self) -> list[str]:
        return self.args.split()


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """User text without control characters (NUL cannot be stored in PostgreSQL; the rest is noise)."""
    return _CONTROL.sub("", text)


# Record ids are 32-bit integer columns on PostgreSQL: a larger number, typed or forged, is no id.
MAX_RECORD_ID = 2**31 - 1


def parse_record_id(raw: str) -> int | None:
    """A positive record id as typed or carried by a button ("12", full-width "１２"); None otherwise."""
    raw = raw.strip()
    if not raw.isdecimal():  # isdecimal, not isdigit: int() refuses "²" although it is a digit
        return None
    value = int(raw)
    return value if 0 < value <= MAX_RECORD_ID else None


@overload
def as_utc(value: datetime) -> datetime: ...


@overload
def as_utc(value: None) -> None: ...


def as_utc(value: datetime | None) -> datetime | None:
    """A stored instant as an aware UTC datetime (SQLite hands back naive ones; we store UTC)."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Clock:
    """The bank's time zone: local dates for people, UTC instants for storage."""

    def __init__(self, timezone: str = "Asia/Shanghai", now: Callable[[], datetime] | None = None) -> None:
        self.tz = ZoneInfo(timezone)
        self._now = now or (lambda: datetime.now(UTC))

    def utcnow(self) -> datetime:
        return self._now().astimezone(UTC)

    def now(self) -> datetime:
        return self._now().astimezone(self.tz)

    def today(self) -> date:
        return self.now().date()

    def utc_range(self, since: date, until: date) -> tuple[datetime, datetime]:
        """The UTC instants bounding local days `since` … `until` (inclusive)."""
        start = datetime.combine(since, datetime.min.time(), self.tz)
        end = datetime.combine(until + timedelta(days=1), datetime.min.time(), self.tz)
        return start.astimezone(UTC), end.astimezone(UTC)


#: The one line a user gets when the vector index (Chroma) cannot be reached: no answer, not a worse one.
KB_UNAVAILABLE = "知识库检索暂时不可用，问题未回答，请稍后再试。"


def crm_call(call: Callable[[], _T]) -> _T:
    """Run a CRM call, turning its errors into Chinese messages for the user."""
    try:
        return call()
    except AccessDenied as exc:  # the CRM's message says which rule applied, without client data
        raise ServiceError(str(exc) or "抱歉，您无权查看该客户的信息。") from None
    except (NotFound, InvalidInput) as exc:
        raise ServiceError(str(exc) or "没有找到对应的记录。") from None
    except UnknownStaff:
        raise ServiceError("您的工号尚未登记或已停用，请联系管理员。") from None
    except CRMError as exc:
        logger.warning("CRM error: %s", exc)
        raise ServiceError("客户系统暂时无法完成该操作，请稍后再试。") from None


class KnowledgeService(Protocol):
    """What the bot needs from `knowledge.KnowledgeBase`: `ask` and `search` must be safe to call from
    several threads at once (the bot answers RMs in parallel worker threads)."""

    def ask(self, question: str, *, client: ClientFacts | None = None) -> Answer: ...

    def search(self, query: str, *, top_k: int | None = None, mode: str = "hybrid") -> list[Hit]: ...

    def snapshot_id(self) -> str:
        """Which content answers are read from now (changes with every document added, changed or
        removed); audited with each answer."""
        ...

    def entitlements(self, tier: str) -> Sequence[Entitlement]:
        """The structured entitlement rows that apply to a tier ("钻石"), from the rule tables."""
        ...

    def ingest(self, paths: Sequence[Path], *, progress: bool = False, wait: bool = True) -> IngestReport:
        """Searchable (BM25) when the lexical stage ends; `wait`: also wait for the vectors."""
        ...

    def vector_progress(self, sources: Sequence[str], total: int) -> VectorProgress:
        """Vectors stored so far of `sources` (`total`: their chunks)."""
        ...
