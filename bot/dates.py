"""Date words of the chat, in one place: a day (`2026-12-15`, `12-15`, `明天`, `下周一`, `3天后`), a range
(`2026-11-01~2026-11-30`, `本周`, `上月`, `7天`) and the words of /review and /stats (a range, an RM, a page).

Features parse dates only through this module; each keeps its own error wording."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from bot.core import ServiceError

logger = logging.getLogger(__name__)

_SEPARATORS = "~～至到—–"
_SPLIT = re.compile(r"~|～|\.\.|至|到|—|–")
#: A full date: 2026-12-15, 2026/12/15, 2026.12.15, 2026年12月15日.
FULL_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
#: A day of this year: 12-15, 12/15, 12月15日.
SHORT_DATE = re.compile(r"(\d{1,2})[-/.月](\d{1,2})日?")
_DAY = FULL_DATE
_MONTH = re.compile(r"(\d{4})[-/.年](\d{1,2})月?")
_PAGE = re.compile(r"(?:第(\d{1,4})页|[pP](\d{1,4})|(\d{1,4})页)")

RANGE_HELP = (
    "日期范围可写 2026-11-01 2026-11-30、2026-11-01~2026-11-30、2026-11-20、2026-11、"
    "今天、昨天、本周、上周、本月、上月 或 7天。"
)


_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}


def date_or_none(year: int, month: int, day: int) -> date | None:
    """The date, or None when there is no such day (2026-02-30)."""
    try:
        return date(year, month, day)
    except ValueError:
        return None


def upcoming_day(text: str, today: date) -> date | None:
    """A day from today on, as RMs write it: 2026-12-15, 12-15 (past this year → next year), 12月15日,
    今天, 明天, 后天, 周三, 下周一, 3天后; None when the text is no such day.

    A full date in the past is returned as it is: the caller words the refusal."""
    text = text.strip().replace("／", "/")
    if text == "今天":
        return today
    if text in {"明天", "明日"}:
        return today + timedelta(days=1)
    if text == "后天":
        return today + timedelta(days=2)
    if m := re.fullmatch(r"(\d{1,3})\s*天后", text):
        return today + timedelta(days=int(m.group(1)))
    if m := re.fullmatch(r"(下)?(?:周|星期|礼拜)([一二三四五六日天])", text):
        target = _WEEKDAYS[m.group(2)]
        if m.group(1):
            monday_next = today + timedelta(days=7 - today.weekday())
            return monday_next + timedelta(days=target)
        return today + timedelta(days=(target - today.weekday()) % 7 or 7)
    if m := FULL_DATE.fullmatch(text):
        return date_or_none(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := SHORT_DATE.fullmatch(text):
        month, day = int(m.group(1)), int(m.group(2))
        result = date_or_none(today.year, month, day)
        if result is not None and result < today:
            result = date_or_none(today.year + 1, month, day)
        return result
    return None


@dataclass(frozen=True, slots=True)
class Window:
    """What the words of a command asked for: an RM (code or name, unresolved), a range, a page."""

    rm: str | None
    since: date
    until: date  # inclusive
    page: int = 1


def parse_date_range(token: str, today: date) -> tuple[date, date] | None:
    """One token → an inclusive range: `2026-11-01~2026-11-28`, `2026-11-20`, `2026-11`, `7天`, `今天`,
    `昨天`, `本周`, `上周`, `本月`, `上月`; None when the token is not a date range."""
    token = token.strip()
    if token in {"今天", "今日"}:
        return today, today
    if token == "昨天":
        day = today - timedelta(days=1)
        return day, day
    monday = today - timedelta(days=today.weekday())
    if token in {"本周", "这周"}:
        return monday, today
    if token == "上周":
        return monday - timedelta(days=7), monday - timedelta(days=1)
    if token in {"本月", "这个月"}:
        return today.replace(day=1), today
    if token == "上月":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    if m := re.fullmatch(r"(?:近|最近)?(\d{1,3})天", token):
        days = max(1, int(m.group(1)))
        return today - timedelta(days=days - 1), today
    parts = _SPLIT.split(token)
    if len(parts) == 1:
        return _day_or_month(token)
    if len(parts) == 2 and all(parts):
        head, tail = _day_or_month(parts[0]), _day_or_month(parts[1])
        if head is not None and tail is not None:
            return head[0], tail[1]
    return None


def _day_or_month(text: str) -> tuple[date, date] | None:
    text = text.strip()
    if m := _DAY.fullmatch(text):
        day = date_or_none(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return (day, day) if day is not None else None
    if m := _MONTH.fullmatch(text):
        start = date_or_none(int(m.group(1)), int(m.group(2)), 1)
        if start is None:
            return None
        following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        return start, following - timedelta(days=1)
    return None


def _single_day(token: str) -> date | None:
    m = _DAY.fullmatch(token.strip())
    return date_or_none(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def _tokens(args: Sequence[str]) -> list[str]:
    """The words, with a free-standing separator glued to its neighbours (`2026-11-01 ~ 2026-11-30`)."""
    text = " ".join(a.strip() for a in args if a.strip())
    text = re.sub(rf"\s*([{_SEPARATORS}])\s*", r"\1", text)
    return text.split()


def parse_page(token: str) -> int | None:
    m = _PAGE.fullmatch(token.strip())
    if m is None:
        return None
    return max(1, int(next(g for g in m.groups() if g)))


def parse_window(
    args: Sequence[str],
    today: date,
    *,
    default_days: int = 7,
    allow_staff: bool = True,
    allow_page: bool = False,
) -> Window:
    """The RM, range and page of a command's words (ServiceError on a word that is none of them).

    Two single dates in a row are a range (`2026-11-01 2026-11-30`); the last range given wins.
    """
    rm: str | None = None
    page = 1
    since, until = today - timedelta(days=default_days - 1), today
    tokens = _tokens(args)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        first = _single_day(token)
        second = _single_day(tokens[i + 1]) if first is not None and i + 1 < len(tokens) else None
        if first is not None and second is not None:
            since, until = first, second
            i += 2
            continue
        i += 1
        parsed = parse_date_range(token, today)
        if parsed is not None:
            since, until = parsed
        elif allow_page and (number := parse_page(token)) is not None:
            page = number
        elif allow_staff and rm is None:
            rm = token
        else:
            raise ServiceError(f"无法识别“{token}”。{RANGE_HELP}")
    if since > until:
        raise ServiceError("开始日期不能晚于结束日期。")
    return Window(rm=rm, since=since, until=until, page=page)
