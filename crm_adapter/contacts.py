"""Logical idempotency of contact records: the content fingerprint, and finding the record a refused
insert collided with.

The same RM, client, channel, summary (after masking, whitespace collapsed) and follow-up date on one
calendar day of the bank's time zone is one contact: its fingerprint is stored in a unique column, so the
database (not a look-up first) decides, also between concurrent writers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from crm_adapter.errors import InvalidInput
from crm_adapter.mapping import contact_model
from crm_adapter.models import ContactRecord

if TYPE_CHECKING:  # the fingerprint itself needs no SQLAlchemy (a non-SQL adapter can use it)
    from sqlalchemy.engine import Connection

    from crm_adapter.statements import Statements

logger = logging.getLogger(__name__)

#: Bumped if the fingerprinted fields ever change (old rows then simply never match new ones).
_VERSION = "v1"


def normalized_summary(summary: str) -> str:
    """Whitespace collapsed (incl. full-width spaces): "客户  关注" and "客户 关注" are one summary."""
    return " ".join(summary.split())


def fingerprint(
    *, rm_code: str, client_id: str, channel: str, summary: str, next_follow_up: date | None, day: date
) -> str:
    """The SHA-256 (hex) of the fields that make two contact records one; `summary` as stored (masked)."""
    parts = (
        _VERSION,
        rm_code,
        client_id,
        channel,
        normalized_summary(summary),
        next_follow_up.isoformat() if next_follow_up else "",
        day.isoformat(),
    )
    # A unit separator cannot occur in validated text (control characters are refused).
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def fingerprint_of(values: Mapping[str, Any], *, rm_code: str, day: date) -> str:
    """The fingerprint of the column values of `validation.new_contact` (summary already masked)."""
    return fingerprint(
        rm_code=rm_code,
        client_id=values["client_id"],
        channel=values["channel"],
        summary=values["summary"],
        next_follow_up=values["next_follow_up"],
        day=day,
    )


def find_existing(
    conn: Connection, sql: Statements, *, key: str | None, fp: str, client_id: str
) -> ContactRecord | None:
    """The stored record an insert collided with, flagged ``duplicate``: the idempotency key first (a
    redelivered update), then the content fingerprint (the same contact sent again). None: neither."""
    if key is not None:
        row = conn.execute(sql.contact_by_key, {"key": key}).first()
        if row is not None:
            if row.client_id != client_id:
                raise InvalidInput("该幂等键已用于另一位客户的联系记录")
            return contact_model(row).model_copy(update={"duplicate": True})
    row = conn.execute(sql.contact_by_fingerprint, {"fingerprint": fp}).first()
    return None if row is None else contact_model(row).model_copy(update={"duplicate": True})


__all__ = ["find_existing", "fingerprint", "fingerprint_of", "normalized_summary"]
