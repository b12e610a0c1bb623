"""Domain models of the CRM port: frozen pydantic v2 models, never ORM rows.

Tier thresholds live here and only here (`TIER_THRESHOLDS` / `tier_for_aum`).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from crm_adapter.masking import mask_phone

logger = logging.getLogger(__name__)


class Role(StrEnum):
    RM = "rm"
    SUPERVISOR = "supervisor"
    TRAINER = "trainer"
    COMPLIANCE = "compliance"  # approves knowledge changes (four eyes); sees no client data
    ADMIN = "admin"


class Tier(StrEnum):
    DIAMOND = "钻石"
    PLATINUM = "白金"
    GOLD = "黄金"
    POTENTIAL = "潜在"


class Channel(StrEnum):
    PHONE = "电话"
    MEETING = "面谈"
    WECHAT = "微信"
    SMS = "短信"
    EMAIL = "邮件"
    EVENT = "活动"


#: AUM (日均金融资产, yuan) lower bounds, highest first: the demo CRM's tiering, not a rule of the bank's
#: documents (they define no tier standard; the knowledge base never states one).
TIER_THRESHOLDS: tuple[tuple[Tier, Decimal], ...] = (
    (Tier.DIAMOND, Decimal("50000000")),
    (Tier.PLATINUM, Decimal("30000000")),
    (Tier.GOLD, Decimal("10000000")),
)

RISK_LEVELS: dict[str, str] = {"C1": "保守型", "C2": "稳健型", "C3": "平衡型", "C4": "成长型", "C5": "进取型"}

AML_RISKS: tuple[str, ...] = ("低", "中", "高")

#: Product risk levels (the usual R1–R5 scale) and their Chinese names.
PRODUCT_RISK_LEVELS: dict[str, str] = {
    "R1": "低风险",
    "R2": "中低风险",
    "R3": "中风险",
    "R4": "中高风险",
    "R5": "高风险",
}

#: Catalogue statuses of a product ("在售" is the default of an import row without a status).
PRODUCT_STATUSES: tuple[str, ...] = ("在售", "募集中", "暂停销售", "停售", "已到期")

#: Where a contact record was entered.
CONTACT_SOURCES: tuple[str, ...] = ("telegram", "console", "cli", "import", "demo")

#: AUM display bands (lower bound in yuan, label); chosen so each tier boundary is a band boundary.
_AUM_BANDS: tuple[tuple[Decimal, str], ...] = (
    (Decimal("500000000"), "5亿以上"),
    (Decimal("100000000"), "1亿-5亿"),
    (Decimal("50000000"), "5000万-1亿"),
    (Decimal("30000000"), "3000万-5000万"),
    (Decimal("10000000"), "1000万-3000万"),
    (Decimal("6000000"), "600万-1000万"),
    (Decimal("0"), "600万以下"),
)


def tier_for_aum(aum_yuan: Decimal | int | float | str) -> Tier:
    """The client tier for an AUM in yuan; the single source of truth for tier thresholds."""
    aum = Decimal(str(aum_yuan))
    for tier, threshold in TIER_THRESHOLDS:
        if aum >= threshold:
            return tier
    return Tier.POTENTIAL


def aum_band(aum_yuan: Decimal) -> str:
    """A coarse band label such as "3000万-5000万" (shown instead of the exact figure in chats)."""
    for lower, label in _AUM_BANDS:
        if aum_yuan >= lower:
            return label
    return _AUM_BANDS[-1][1]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class Staff(_Frozen):
    code: str
    name: str
    role: Role
    team: str | None = None
    telegram_id: int | None = None


class Client(_Frozen):
    client_id: str
    name: str
    pinyin: str
    gender: str | None = None
    birthday: date | None = None
    phone: str | None = None
    aum: Decimal
    tier: Tier
    risk_level: str
    preferences: str = ""
    family: str = ""
    notes: str = ""
    rm_code: str
    kyc_review_due: date | None = None
    aml_risk: str = "低"
    pep: bool = False
    #: When the client's risk tolerance (risk_level) was last assessed; None = no assessment on record.
    risk_assessed_on: date | None = None

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone)

    @property
    def risk_name(self) -> str:
        return RISK_LEVELS.get(self.risk_level, self.risk_level)

    @property
    def aum_band(self) -> str:
        return aum_band(self.aum)


class ContactRecord(_Frozen):
    id: int
    client_id: str
    rm_code: str
    channel: Channel
    occurred_at: datetime
    summary: str
    topics: tuple[str, ...] = ()
    next_follow_up: date | None = None
    source: str = "cli"
    created_at: datetime
    idempotency_key: str | None = None
    #: Only on what `create_contact` returns: True when the contact was stored before (the same
    #: idempotency key, or the same content on the same day) and this is that earlier record.
    duplicate: bool = False


class NewContact(_Frozen):
    client_id: str
    channel: Channel
    summary: str
    occurred_at: datetime | None = None  # None → now
    topics: tuple[str, ...] = ()
    next_follow_up: date | None = None
    source: str = "cli"
    idempotency_key: str | None = None


class ClientCard(_Frozen):
    client: Client
    last_contact: ContactRecord | None
    #: The day of the latest contact in the bank's time zone (occurred_at is stored in UTC).
    last_contact_day: date | None = None
    days_since_contact: int | None
    next_follow_up: date | None
    follow_up_overdue: bool
    #: The client's next birthday (always the next occurrence; None when the birthday is unknown).
    upcoming_birthday: date | None
    days_to_birthday: int | None


class FollowUp(_Frozen):
    client: Client
    due: date
    overdue: bool
    reason: str  # "约定回访" / "按钻石客户14天节奏" / "尚无联系记录"


class BirthdayReminder(_Frozen):
    client: Client
    birthday: date  # the occurrence (this year or next), not the birth date
    days_until: int


class KycReview(_Frozen):
    """A client whose KYC review is due within the horizon, or overdue."""

    client: Client
    due: date
    overdue: bool
    days: int  # days until due (negative: days overdue)


class RiskAssessmentDue(_Frozen):
    """A client with no risk assessment (`expires` None), or one expired or expiring within the horizon."""

    client: Client
    expires: date | None  # the assessment's last valid day + 1: the day it is no longer valid
    days: int | None  # days until `expires` (zero or negative: expired)


class Product(_Frozen):
    """A product of the catalogue (reference data, not client data: no scopes apply)."""

    code: str
    name: str
    pinyin: str  # full pinyin of the name ("xinxiang...")
    initials: str  # pinyin initials ("xx...")
    type: str
    risk_level: str  # R1–R5
    issuer: str = ""
    status: str = "在售"

    @property
    def risk_name(self) -> str:
        return PRODUCT_RISK_LEVELS.get(self.risk_level, self.risk_level)


class ProductImportReport(_Frozen):
    created: int
    updated: int
    errors: tuple[tuple[int, str], ...] = ()  # (line number, Chinese reason)

    @property
    def ok(self) -> bool:
        return not self.errors


class NewBenefitUse(_Frozen):
    """One use of a counted entitlement, to record (`benefit`: the entitlement table's name)."""

    client_id: str
    benefit: str
    used_on: date | None = None  # None → today in the adapter's time zone
    note: str = ""
    contact_id: int | None = None  # the contact record it was arranged in, if any
    source: str = "cli"
    idempotency_key: str | None = None


class BenefitUse(_Frozen):
    id: int
    client_id: str
    benefit: str
    used_on: date
    note: str = ""
    contact_id: int | None = None
    recorded_by: str
    source: str = "cli"
    created_at: datetime
    idempotency_key: str | None = None
    #: Only on what `record_benefit_use` returns: True when this use was stored before (the same key,
    #: or the same client, benefit, day and note) and this is that earlier record.
    duplicate: bool = False


class BenefitTally(_Frozen):
    """Uses of one benefit by one client within a period."""

    benefit: str
    used: int
    last_used_on: date


class ClientBrief(_Frozen):
    """What a meeting brief reads about one client, in one scoped, access-logged transaction."""

    card: ClientCard
    contacts: tuple[ContactRecord, ...]  # newest first
    tallies: tuple[BenefitTally, ...]  # uses per benefit within the period asked for


class BenefitImportReport(_Frozen):
    created: int
    duplicates: int  # rows already in the ledger (a re-import): not counted again
    errors: tuple[tuple[int, str], ...] = ()  # (line number, Chinese reason)

    @property
    def ok(self) -> bool:
        return not self.errors


class ClientImportReport(_Frozen):
    created: int
    updated: int
    errors: tuple[tuple[int, str], ...] = ()  # (line number, Chinese reason)

    @property
    def ok(self) -> bool:
        return not self.errors


__all__ = [
    "AML_RISKS",
    "CONTACT_SOURCES",
    "PRODUCT_RISK_LEVELS",
    "PRODUCT_STATUSES",
    "RISK_LEVELS",
    "TIER_THRESHOLDS",
    "BenefitImportReport",
    "BenefitTally",
    "BenefitUse",
    "BirthdayReminder",
    "Channel",
    "Client",
    "ClientBrief",
    "ClientCard",
    "ClientImportReport",
    "ContactRecord",
    "FollowUp",
    "KycReview",
    "NewBenefitUse",
    "NewContact",
    "Product",
    "ProductImportReport",
    "RiskAssessmentDue",
    "Role",
    "Staff",
    "Tier",
    "aum_band",
    "tier_for_aum",
]
