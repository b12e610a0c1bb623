"""Trainers see no client data: client names known to the CRM become 某客户, personal numbers are masked.

Questions reach trainers through `/unanswered` (the gap inbox), `/handoffs` and the exports for trainers.
RMs name their clients in questions ("张伟的太太想开户怎么办"); a trainer needs the question, not the
client. Supervisors and admins may read their scope's client data and see the texts as they are.

Names are matched longest first at every position (so 欧阳明 wins over a client called 欧阳), latin names
case-insensitively; one-character names are left alone (they would wipe out ordinary words).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from crm_adapter import Role
from crm_adapter.masking import mask_personal_numbers

if TYPE_CHECKING:
    from crm_adapter import CRMAdapter, Staff

logger = logging.getLogger(__name__)

PLACEHOLDER = "某客户"
#: Shorter names are not replaced: a one-character "name" is an ordinary word.
MIN_NAME_CHARS = 2
#: How long the CRM's client names are reused before they are read again.
NAMES_TTL_SECONDS = 60.0
#: Roles that never see client data in the texts they are shown.
REDACTED_ROLES = frozenset({Role.TRAINER})


class ClientRedactor:
    """Replace known client names with 某客户 and mask personal numbers (immutable, thread-safe)."""

    __slots__ = ("_lengths", "_names")

    def __init__(self, names: Iterable[str]) -> None:
        kept = {n.strip().lower() for n in names if len(n.strip()) >= MIN_NAME_CHARS}
        self._names = frozenset(kept)
        self._lengths = tuple(sorted({len(n) for n in kept}, reverse=True))

    def __call__(self, text: str) -> str:
        return self.redact(text)

    def redact(self, text: str) -> str:
        masked = mask_personal_numbers(text)
        if not self._names or not masked:
            return masked
        folded = masked.lower()
        if len(folded) != len(masked):  # a rare letter whose lower case is longer: offsets would drift
            folded = masked
        out: list[str] = []
        i, end = 0, len(masked)
        while i < end:
            for size in self._lengths:
                if i + size <= end and folded[i : i + size] in self._names:
                    if not out or not out[-1].endswith(PLACEHOLDER):  # "张伟张薇" → one 某客户
                        out.append(PLACEHOLDER)
                    i += size
                    break
            else:
                out.append(masked[i])
                i += 1
        return "".join(out)


def _unchanged(text: str) -> str:
    return text


class ClientPrivacy:
    """The CRM's client names as a redactor, re-read every `ttl` seconds (thread-safe).

    Without a CRM (the CLI's knowledge-only commands) only personal numbers are masked.
    """

    def __init__(
        self,
        crm: CRMAdapter | None,
        *,
        ttl: float = NAMES_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._crm = crm
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, ClientRedactor] | None = None

    def redactor(self) -> ClientRedactor:
        now = self._clock()
        cached = self._cached
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        with self._lock:
            cached = self._cached
            if cached is None or now - cached[0] >= self._ttl:
                names = self._crm.client_names() if self._crm is not None else frozenset()
                cached = (now, ClientRedactor(names))
                self._cached = cached
            return cached[1]

    def redact(self, text: str) -> str:
        return self.redactor().redact(text)

    def for_viewer(self, staff: Staff) -> Callable[[str], str]:
        """What to apply to question texts shown to `staff`: redaction for trainers, nothing otherwise."""
        return self.redactor().redact if staff.role in REDACTED_ROLES else _unchanged

    def forget(self) -> None:
        """Read the names again on next use (after a client import)."""
        with self._lock:
            self._cached = None


__all__ = ["PLACEHOLDER", "REDACTED_ROLES", "ClientPrivacy", "ClientRedactor"]
