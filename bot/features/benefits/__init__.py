"""The benefit ledger in chat and CLI (issue #21): `/used`, answers that count, and `/brief`."""

from bot.features.benefits.brief import BriefService, brief
from bot.features.benefits.chat import log_offer, use_from_log, used, used_button, used_from_log
from bot.features.benefits.service import LEDGER, BenefitService, BenefitSheet

__all__ = [
    "LEDGER",
    "BenefitService",
    "BenefitSheet",
    "BriefService",
    "brief",
    "log_offer",
    "use_from_log",
    "used",
    "used_button",
    "used_from_log",
]
