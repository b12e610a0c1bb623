"""Database rows → the frozen models of `crm_adapter.models` (ORM rows and Core rows alike).

The converters read attributes only, so an ORM instance, a Core `Row` or a `RowValues` of a
just-inserted row all convert the same way.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from crm_adapter.models import Channel, Client, ContactRecord, Product, Role, Staff, Tier

logger = logging.getLogger(__name__)

#: The columns `staff_model` (plus the active flag) and `client_model` read: the hot-path statements
#: select only these, since every result column costs decoding per row.
STAFF_COLUMNS = ("code", "name", "role", "team", "telegram_id", "active")
CLIENT_COLUMNS = (
    "client_id", "name", "name_pinyin", "gender", "birthday", "phone", "aum_fen", "tier", "risk_level",
    "preferences", "family", "notes", "rm_code", "kyc_review_due", "aml_risk", "pep", "risk_assessed_on",
)  # fmt: skip


class RowValues:
    """Attribute access over keyword values, so a just-inserted row converts like a fetched one."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


def fen(amount: Decimal) -> int:
    """Yuan → integer fen, as stored (exact sums and comparisons on both databases)."""
    return int((amount * 100).to_integral_value())


def yuan(amount_fen: int) -> Decimal:
    return (Decimal(amount_fen) / 100).quantize(Decimal("0.01"))


def staff_model(row: Any) -> Staff:
    return Staff(
        code=row.code, name=row.name, role=Role(row.role), team=row.team, telegram_id=row.telegram_id
    )


def client_model(row: Any) -> Client:
    return Client(
        client_id=row.client_id,
        name=row.name,
        pinyin=row.name_pinyin,
        gender=row.gender,
        birthday=row.birthday,
        phone=row.phone,
        aum=yuan(row.aum_fen),
        tier=Tier(row.tier),
        risk_level=row.risk_level,
        preferences=row.preferences,
        family=row.family,
        notes=row.notes,
        rm_code=row.rm_code,
        kyc_review_due=row.kyc_review_due,
        aml_risk=row.aml_risk,
        pep=row.pep,
        risk_assessed_on=row.risk_assessed_on,
    )


def product_model(row: Any) -> Product:
    return Product(
        code=row.code,
        name=row.name,
        pinyin=row.name_pinyin,
        initials=row.name_initials,
        type=row.type,
        risk_level=row.risk_level,
        issuer=row.issuer,
        status=row.status,
    )


def contact_model(row: Any) -> ContactRecord:
    return ContactRecord(
        id=row.id,
        client_id=row.client_id,
        rm_code=row.rm_code,
        channel=Channel(row.channel),
        occurred_at=row.occurred_at,
        summary=row.summary,
        topics=tuple(row.topics or ()),
        next_follow_up=row.next_follow_up,
        source=row.source,
        created_at=row.created_at,
        idempotency_key=row.idempotency_key,
    )


__all__ = [
    "CLIENT_COLUMNS",
    "STAFF_COLUMNS",
    "RowValues",
    "client_model",
    "contact_model",
    "fen",
    "product_model",
    "staff_model",
    "yuan",
]
