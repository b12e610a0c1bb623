"""CRM port (`CRMAdapter`), its SQL implementation (`SqlCRM`) and the domain models.

Never imports `bot` or `knowledge`; configuration comes in through constructor arguments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_adapter.errors import AccessDenied, CRMError, InvalidInput, NotFound, UnknownStaff
from crm_adapter.masking import mask_bank_card, mask_id_card, mask_personal_numbers, mask_phone
from crm_adapter.models import (
    AML_RISKS,
    CONTACT_SOURCES,
    RISK_LEVELS,
    TIER_THRESHOLDS,
    BenefitImportReport,
    BenefitTally,
    BenefitUse,
    BirthdayReminder,
    Channel,
    Client,
    ClientBrief,
    ClientCard,
    ClientImportReport,
    ContactRecord,
    FollowUp,
    KycReview,
    NewBenefitUse,
    NewContact,
    Product,
    ProductImportReport,
    RiskAssessmentDue,
    Role,
    Staff,
    Tier,
    aum_band,
    tier_for_aum,
)
from crm_adapter.port import CRMAdapter

if TYPE_CHECKING:
    from crm_adapter.sql import SqlCRM

__all__ = [
    "AML_RISKS",
    "CONTACT_SOURCES",
    "RISK_LEVELS",
    "TIER_THRESHOLDS",
    "AccessDenied",
    "BenefitImportReport",
    "BenefitTally",
    "BenefitUse",
    "BirthdayReminder",
    "CRMAdapter",
    "CRMError",
    "Channel",
    "Client",
    "ClientBrief",
    "ClientCard",
    "ClientImportReport",
    "ContactRecord",
    "FollowUp",
    "InvalidInput",
    "KycReview",
    "NewBenefitUse",
    "NewContact",
    "NotFound",
    "Product",
    "ProductImportReport",
    "RiskAssessmentDue",
    "Role",
    "SqlCRM",
    "Staff",
    "Tier",
    "UnknownStaff",
    "aum_band",
    "mask_bank_card",
    "mask_id_card",
    "mask_personal_numbers",
    "mask_phone",
    "tier_for_aum",
]


def __getattr__(name: str) -> object:
    # SQLAlchemy and Alembic cost most of a second to import; load them only when SqlCRM is used.
    if name == "SqlCRM":
        from crm_adapter.sql import SqlCRM

        return SqlCRM
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
