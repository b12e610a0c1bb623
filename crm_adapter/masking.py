"""Masking of personal numbers: phone numbers, ID cards and bank cards.

Used by the CRM models (`Client.phone_masked`) and by the bot's conversation log, which masks free text
before storing it (`mask_personal_numbers`).
"""

from __future__ import annotations

import logging
import re

logger = logging.getLogger(__name__)

# Digit runs are matched with look-arounds instead of \b because Chinese text has no word boundaries
# between a CJK character and a digit ("电话13812345678" must still be masked).
_ID_CARD_RE = re.compile(r"(?<![0-9A-Za-z])([1-9]\d{5})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_BANK_CARD_RE = re.compile(r"(?<![0-9])(\d{4})(\d{8,11})(\d{4})(?![0-9])")
# Bank cards are often written in groups of four: "6222 0212 3456 7890 123".
_BANK_CARD_GROUPED_RE = re.compile(r"(?<![0-9])(\d{4})((?:[ -]\d{4}){2,3})([ -]\d{1,4})?(?![0-9])")
_MOBILE_RE = re.compile(r"(?<![0-9])((?:\+?86[ -]?)?)(1[3-9]\d)[ -]?(\d{4})[ -]?(\d{4})(?![0-9])")


def mask_phone(phone: str | None) -> str:
    """`13812345678` → `138****5678`; other lengths keep at most the last 4 digits visible."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone)
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) == 11:
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) >= 8:
        return f"{digits[:2]}{'*' * (len(digits) - 6)}{digits[-4:]}"
    if len(digits) > 2:
        return "*" * (len(digits) - 2) + digits[-2:]
    return "*" * len(digits)


def mask_id_card(id_card: str | None) -> str:
    """18-digit resident ID: keep the 6-digit region code and the last 4 characters."""
    if not id_card:
        return ""
    value = id_card.strip()
    if len(value) <= 10:
        return "*" * len(value)
    return f"{value[:6]}{'*' * (len(value) - 10)}{value[-4:]}"


def mask_bank_card(card: str | None) -> str:
    """Keep the first 4 and last 4 digits: `6222021234567890123` → `6222***********0123`."""
    if not card:
        return ""
    digits = re.sub(r"\D", "", card)
    if len(digits) <= 8:
        return "*" * len(digits)
    return f"{digits[:4]}{'*' * (len(digits) - 8)}{digits[-4:]}"


def _mask_id(match: re.Match[str]) -> str:
    return mask_id_card(match.group(0))


def _mask_bank(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if not 16 <= len(digits) <= 19:
        return match.group(0)
    return mask_bank_card(digits)


def _mask_mobile(match: re.Match[str]) -> str:
    return f"{match.group(1)}{match.group(2)}****{match.group(4)}"


def mask_personal_numbers(text: str) -> str:
    """Mask 18-digit ID cards (incl. trailing X), mainland mobiles and 16–19-digit bank cards in free text.

    Order matters: ID cards first (18 chars, may end in X), then bank cards (16–19 digits), then
    11-digit mobiles, so a mobile-looking run inside a longer number is never half-masked.
    """
    if not text:
        return text
    text = _ID_CARD_RE.sub(_mask_id, text)
    text = _BANK_CARD_RE.sub(_mask_bank, text)
    text = _BANK_CARD_GROUPED_RE.sub(_mask_bank, text)
    return _MOBILE_RE.sub(_mask_mobile, text)


__all__ = ["mask_bank_card", "mask_id_card", "mask_personal_numbers", "mask_phone"]
