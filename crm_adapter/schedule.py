"""Pure date rules: follow-up due dates by tier cadence, and next birthdays (Feb 29, year wrap)."""

from __future__ import annotations

import calendar
import logging
from collections.abc import Mapping
from datetime import date, timedelta

from crm_adapter.errors import InvalidInput
from crm_adapter.models import Tier

logger = logging.getLogger(__name__)

#: Days between contacts per tier unless the last contact set an explicit next follow-up.
DEFAULT_CADENCE: dict[Tier, int] = {Tier.DIAMOND: 14, Tier.PLATINUM: 30, Tier.GOLD: 60, Tier.POTENTIAL: 90}

REASON_AGREED = "约定回访"
REASON_NEVER = "尚无联系记录"


def normalize_cadence(cadence: Mapping[str, int] | None) -> dict[Tier, int]:
    """Merge a tier→days mapping (keys "钻石" or "DIAMOND"/"diamond") over the defaults; validate it."""
    result = dict(DEFAULT_CADENCE)
    for key, days in (cadence or {}).items():
        tier = _parse_tier_key(str(key))
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
            raise InvalidInput(f"回访节奏天数无效：{key}={days}（应为 1–3650 的整数）")
        result[tier] = days
    return result


def _parse_tier_key(key: str) -> Tier:
    for tier in Tier:
        if key.strip() in (tier.value, tier.name, tier.name.lower()):
            return tier
    raise InvalidInput(f"未知的客户等级：{key}")


def cadence_reason(tier: Tier, days: int) -> str:
    return f"按{tier.value}客户{days}天节奏"


def follow_up_due(
    *,
    tier: Tier,
    last_contact_day: date | None,
    agreed_next: date | None,
    cadence: Mapping[Tier, int],
    today: date,
) -> tuple[date, str]:
    """(due date, reason). The latest contact's agreed date wins; a never-contacted client is due today."""
    if last_contact_day is None:
        return today, REASON_NEVER
    if agreed_next is not None:
        return agreed_next, REASON_AGREED
    days = cadence[tier]
    return last_contact_day + timedelta(days=days), cadence_reason(tier, days)


def birthday_in_year(birthday: date, year: int) -> date:
    """The birthday's date in `year`; Feb 29 is observed on Feb 28 in common years."""
    if birthday.month == 2 and birthday.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return birthday.replace(year=year)


def next_birthday(birthday: date, today: date) -> date:
    """The next occurrence on or after `today` (wraps into next year)."""
    this_year = birthday_in_year(birthday, today.year)
    if this_year >= today:
        return this_year
    return birthday_in_year(birthday, today.year + 1)


def birthday_mmdd(birthday: date | None) -> int | None:
    return None if birthday is None else birthday.month * 100 + birthday.day


def mmdd_window(today: date, days: int) -> set[int]:
    """Every month*100+day whose birthday falls in [today, today+days] (Feb 29 observed on Feb 28)."""
    result: set[int] = set()
    for offset in range(days + 1):
        day = today + timedelta(days=offset)
        result.add(day.month * 100 + day.day)
        if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
            result.add(229)
    return result


def add_months(day: date, months: int) -> date:
    """`day` plus `months` calendar months, the day clamped to the month's end (Jan 31 + 1 = Feb 28)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def assessed_cutoff(day: date, *, validity_months: int, horizon_days: int) -> date:
    """The latest assessment day that expires by `day + horizon_days`, where an assessment made on `a`
    expires on `add_months(a, validity_months)`.

    The exact inverse of `add_months`, so a caller can filter with `assessed_on <= cutoff`."""
    target = day + timedelta(days=horizon_days)
    month = target.month - 1 - validity_months
    year, month = target.year + month // 12, month % 12 + 1
    last = calendar.monthrange(year, month)[1]
    if target.day == calendar.monthrange(target.year, target.month)[1]:
        return date(year, month, last)  # every day of that month expires by the target month's end
    return date(year, month, min(target.day, last))


__all__ = [
    "DEFAULT_CADENCE",
    "REASON_AGREED",
    "REASON_NEVER",
    "add_months",
    "assessed_cutoff",
    "birthday_in_year",
    "birthday_mmdd",
    "cadence_reason",
    "follow_up_due",
    "mmdd_window",
    "next_birthday",
    "normalize_cadence",
]
