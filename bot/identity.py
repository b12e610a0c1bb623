"""Who is talking: registered staff by Telegram id (briefly cached) or by staff code."""

from __future__ import annotations

import logging
import time

from bot import roles
from bot.core import ServiceError
from crm_adapter import CRMAdapter, NotFound, Staff

logger = logging.getLogger(__name__)

#: How long a Telegram-id → staff lookup is trusted before asking the CRM again.
STAFF_CACHE_SECONDS = 30.0
#: Unknown users are cached too; past this many entries the cache starts afresh.
_CACHE_LIMIT = 10_000


class StaffDirectory:
    """Staff lookups for the access gate and the front ends (thread-safe: dict operations only)."""

    def __init__(self, crm: CRMAdapter) -> None:
        self._crm = crm
        self._cache: dict[int, tuple[float, Staff | None]] = {}

    def cached(self, telegram_id: int) -> tuple[bool, Staff | None]:
        """`(True, staff)` when the answer is cached (no database access), else `(False, None)`: lets
        async callers skip a worker-thread hop on the common path."""
        hit = self._cache.get(telegram_id)
        if hit is not None and time.monotonic() - hit[0] < STAFF_CACHE_SECONDS:
            return True, hit[1]
        return False, None

    def for_telegram(self, telegram_id: int) -> Staff | None:
        """The registered staff member behind a Telegram account, or None."""
        cached, staff = self.cached(telegram_id)
        if cached:
            return staff
        staff = self._crm.get_staff_by_telegram_id(telegram_id=telegram_id)
        if len(self._cache) > _CACHE_LIMIT:
            self._cache.clear()
        self._cache[telegram_id] = (time.monotonic(), staff)
        return staff

    def by_code(self, code: str) -> Staff:
        try:
            return self._crm.get_staff(code=code.strip().upper())
        except NotFound:
            raise ServiceError(f"没有工号为 {code} 的员工。") from None

    def with_telegram(self) -> list[Staff]:
        """Active staff who have a Telegram account (each gets a command menu for their role)."""
        return [s for s in self._crm.list_staff() if s.telegram_id is not None]

    def digest_recipients(self) -> list[Staff]:
        """RMs who have a Telegram account (they get the morning digest)."""
        return [s for s in self.with_telegram() if roles.is_rm(s)]

    def first_rm(self, preferred: str) -> Staff:
        """`preferred` when it exists, else the first registered RM (the console's default identity)."""
        try:
            return self.by_code(preferred)
        except ServiceError:
            rms = sorted((s for s in self._crm.list_staff() if roles.is_rm(s)), key=lambda s: s.code)
            if not rms:
                raise ServiceError(
                    "还没有登记任何客户经理，请用 rm-assistant chat --as 工号 指定身份。"
                ) from None
            return rms[0]
