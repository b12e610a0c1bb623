"""Masking of personal numbers: phone numbers, ID cards and bank cards.

Used by the CRM models (`Client.phone_masked`), by the CRM when it stores contact summaries, and by the
bot's conversation log and log formatter, which mask free text before writing it
(`mask_personal_numbers`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

logger = logging.getLogger(__name__)

# Text is matched on a folded copy of the same length (full-width digits, X, spaces, dashes, dots,
# parentheses and plus → ASCII), so "１３８１２３４５６７８" or "138－1234－5678" are found; the folding
# is 1:1 per character, so match offsets are valid in the original text, which is otherwise untouched.
_FOLD = str.maketrans(
    {
        **{chr(0xFF10 + i): str(i) for i in range(10)},
        "Ｘ": "X",
        "ｘ": "x",
        "\u3000": " ",  # ideographic space
        "\u00a0": " ",  # no-break space
        "\u2007": " ",  # figure space
        "\u202f": " ",  # narrow no-break space
        "－": "-",
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "．": ".",
        "（": "(",
        "）": ")",
        "＋": "+",
    }
)

# Look-arounds instead of \b: Chinese text has no word boundary between a CJK character and a digit
# ("电话13812345678" must still be masked). A separator, where allowed, is ONE space or dash, the same
# one throughout a number (a backreference), so "2026-12-15 6222 0212 …" is not read as one number.
_ID_CARD_RE = re.compile(r"(?<![0-9A-Za-z])([1-9]\d{5})([ -]?)(\d{8})\2(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_BANK_CARD_RE = re.compile(r"(?<!\d)\d{16,19}(?!\d)")
# Grouped cards: "6222 0212 3456 7890 123", "6222-0212-3456-7890", "622202 1234567890123".
_BANK_CARD_GROUPED_RE = re.compile(r"(?<!\d)\d{4,6}([ -])\d{4,13}(?:\1\d{4})*(?:\1\d{1,4})?(?!\d)")
# Mainland mobiles: 1[3-9]x xxxx xxxx, optionally "+86"/"0086"/"86"/"(+86)" first, the first three
# digits optionally in parentheses, groups optionally separated by a space, dash or dot.
_MOBILE_RE = re.compile(
    r"(?<![\d+])"
    r"(?P<prefix>(?:(?:\+|00)?86|\(\+?86\))[ -]?)?"
    r"(?P<open>\()?(?P<head>1[3-9]\d)(?(open)\))[ .-]?"
    r"(?P<mid>\d{4})[ .-]?(?P<tail>\d{4})(?!\d)"
)
_NON_DIGIT_RE = re.compile(r"[^0-9Xx]")
_ASCII_DIGIT_RE = re.compile(r"[0-9]")


def mask_phone(phone: str | None) -> str:
    """`13812345678` → `138****5678`; other lengths keep at most the last 4 digits visible."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone.translate(_FOLD))
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
    """18-character resident ID: keep the 6-digit region code and the last 4 characters."""
    if not id_card:
        return ""
    value = id_card.strip().translate(_FOLD)
    if len(value) <= 10:
        return "*" * len(value)
    return f"{value[:6]}{'*' * (len(value) - 10)}{value[-4:]}"


def mask_bank_card(card: str | None) -> str:
    """Keep the first 4 and last 4 digits: `6222021234567890123` → `6222***********0123`."""
    if not card:
        return ""
    digits = re.sub(r"\D", "", card.translate(_FOLD))
    if len(digits) <= 8:
        return "*" * len(digits)
    return f"{digits[:4]}{'*' * (len(digits) - 8)}{digits[-4:]}"


def _mask_id(match: re.Match[str]) -> str:
    return mask_id_card(_NON_DIGIT_RE.sub("", match.group(0)))


def _mask_bank(match: re.Match[str]) -> str | None:
    digits = re.sub(r"\D", "", match.group(0))
    return mask_bank_card(digits) if 16 <= len(digits) <= 19 else None


def _mask_mobile(match: re.Match[str]) -> str:
    return f"{match.group('prefix') or ''}{match.group('head')}****{match.group('tail')}"


_Masker = Callable[[re.Match[str]], str | None]


def _substitute(text: str, folded: str, pattern: re.Pattern[str], mask: _Masker) -> tuple[str, str]:
    """Replace the matches of `pattern` in `folded` by `mask(match)` (None: keep), in both texts."""
    parts: list[str] = []
    folded_parts: list[str] = []
    last = 0
    for match in pattern.finditer(folded):
        masked = mask(match)
        if masked is None:
            continue
        parts += [text[last : match.start()], masked]
        folded_parts += [folded[last : match.start()], masked]
        last = match.end()
    if not parts:
        return text, folded
    parts.append(text[last:])
    folded_parts.append(folded[last:])
    return "".join(parts), "".join(folded_parts)


def mask_personal_numbers(text: str) -> str:
    """Mask 18-digit ID cards (incl. trailing X), mainland mobiles and 16–19-digit bank cards in free text.

    Full-width digits and separators are recognised; a masked number is written compactly in ASCII
    (`110101-19900307-4518` → `110101********4518`, `(138)1234-5678` → `138****5678`, a country prefix
    as written: `+86 138 1234 5678` → `+86 138****5678`). Amounts, dates, times and other short numbers
    are left alone. Masking masked text changes nothing.

    Order matters: ID cards first (18 chars, may end in X), then bank cards (16–19 digits), then
    11-digit mobiles, so a mobile-looking run inside a longer number is never half-masked.
    """
    if not text:
        return text
    folded = text.translate(_FOLD)
    if _ASCII_DIGIT_RE.search(folded) is None:  # most log lines and answers: nothing to look at
        return text
    maskers: tuple[tuple[re.Pattern[str], _Masker], ...] = (
        (_ID_CARD_RE, _mask_id),
        (_BANK_CARD_RE, _mask_bank),
        (_BANK_CARD_GROUPED_RE, _mask_bank),
        (_MOBILE_RE, _mask_mobile),
    )
    for pattern, mask in maskers:
        text, folded = _substitute(text, folded, pattern, mask)
    return text


__all__ = ["mask_bank_card", "mask_id_card", "mask_personal_numbers", "mask_phone"]
