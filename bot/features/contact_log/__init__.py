"""Contact records: `/log` in one line or guided, stored exactly once in the CRM."""

from bot.features.contact_log.flow import (
    CHANNEL,
    CLIENT,
    CONFIRM,
    FOLLOW_UP,
    STATES,
    SUMMARY,
    Step,
    start,
    step,
)
from bot.features.contact_log.parsing import CONFIRM_WORDS, SKIP_WORDS, parse_channel, parse_follow_up
from bot.features.contact_log.service import ContactLogService, LogDraft, LogResult

__all__ = [
    "CHANNEL",
    "CLIENT",
    "CONFIRM",
    "CONFIRM_WORDS",
    "FOLLOW_UP",
    "SKIP_WORDS",
    "STATES",
    "SUMMARY",
    "ContactLogService",
    "LogDraft",
    "LogResult",
    "Step",
    "parse_channel",
    "parse_follow_up",
    "start",
    "step",
]
