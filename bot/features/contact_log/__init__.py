"""Contact records: `/log` in one line or guided, stored exactly once in the CRM."""

from bot.features.contact_log.flow import (
    CHANNEL,
    CLIENT,
    CONFIRM,
    CONFIRM_WITH_USE,
    FOLLOW_UP,
    NOT_SAVED,
    STATES,
    SUMMARY,
    Step,
    logged_at,
    prompt,
    render_edit_of_saved,
    revise,
    start,
    step,
)
from bot.features.contact_log.parsing import CONFIRM_WORDS, SKIP_WORDS, parse_channel, parse_follow_up
from bot.features.contact_log.service import ContactLogService, LogDraft, LogResult

__all__ = [
    "CHANNEL",
    "CLIENT",
    "CONFIRM",
    "CONFIRM_WITH_USE",
    "CONFIRM_WORDS",
    "FOLLOW_UP",
    "NOT_SAVED",
    "SKIP_WORDS",
    "STATES",
    "SUMMARY",
    "ContactLogService",
    "LogDraft",
    "LogResult",
    "Step",
    "logged_at",
    "parse_channel",
    "parse_follow_up",
    "prompt",
    "render_edit_of_saved",
    "revise",
    "start",
    "step",
]
