"""Parsing of what RMs type when logging a contact: channels, follow-up dates, the one-line form."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, timedelta

from bot.core import ServiceError
from crm_adapter import Channel

logger = logging.getLogger(__name__)

#: Chat words for contact channels, including common aliases RMs type.
CHANNEL_ALIASES: dict[str, Channel] = {
    "电话": Channel.PHONE,
    "打电话": Channel.PHONE,
    "通话": Channel.PHONE,
    "来电": Channel.PHONE,
    "致电": Channel.PHONE,
    "phone": Channel.PHONE,
    "面谈": Channel.MEETING,
    "见面": Channel.MEETING,
    "面见": Channel.MEETING,
    "拜访": Channel.MEETING,
    "上门": Channel.MEETING,
    "会面": Channel.MEETING,
    "meeting": Channel.MEETING,
    "微信": Channel.WECHAT,
    "wechat": Channel.WECHAT,
    "短信": Channel.SMS,
    "sms": Channel.SMS,
    "邮件": Channel.EMAIL,
    "电邮": Channel.EMAIL,
    "email": Channel.EMAIL,
    "活动": Channel.EVENT,
    "沙龙": Channel.EVENT,
    "event": Channel.EVENT,
}
#: Words that confirm a draft (Telegram, console and the one-line form share them).
CONFIRM_WORDS = frozenset({"确认", "确定", "是", "好", "对", "ok", "y", "yes", "保存"})
#: Words (and the empty answer) that skip the follow-up date.
SKIP_WORDS = frozenset({"", "无", "不需要", "跳过", "不设置", "不用", "skip", "-"})

_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_FOLLOW_UP_PREFIX = re.compile(r"^(?:下次|回访|跟进)[:：]\s*(.*)$")


@dataclass(frozen=True, slots=True)
class LogLine:
    """The parts of `/log 张伟 电话 关注海外配置 下次:2026-12-15`, the client still unresolved."""

    client_query: str
    channel: Channel
    summary: str
    next_follow_up: date | None


def parse_channel(text: str) -> Channel | None:
    """Channel from a chat word (电话, 见面, 微信 …); None when unknown."""
    return CHANNEL_ALIASES.get(text.strip().lower())


def channel_choices() -> str:
    return "、".join(c.value for c in Channel)


def is_confirmation(text: str) -> bool:
    return text.strip().lower() in CONFIRM_WORDS


def parse_log_line(text: str, today: date) -> LogLine:
    """Parse the one-line form: client, channel, summary, optional `下次:日期`."""
    tokens = text.split()
    if len(tokens) < 3:
        raise ServiceError(
            "格式：/log 客户 渠道 摘要 [下次:日期]\n例如：/log 张伟 电话 客户关注海外配置 下次:2026-12-15"
        )
    follow_up: date | None = None
    rest: list[str] = []
    for token in tokens[2:]:
        m = _FOLLOW_UP_PREFIX.match(token)
        if m:
            follow_up = parse_follow_up(m.group(1), today)
        else:
            rest.append(token)
    channel = parse_channel(tokens[1])
    if channel is None:
        raise ServiceError(f"无法识别联系渠道“{tokens[1]}”，可选：{channel_choices()}。")
    summary = " ".join(rest).strip()
    if not summary:
        raise ServiceError("请填写沟通摘要，例如：客户关注海外配置。")
    return LogLine(client_query=tokens[0], channel=channel, summary=summary, next_follow_up=follow_up)


def parse_follow_up(text: str, today: date) -> date | None:
    """A follow-up date: 2026-12-15, 12-15, 12月15日, 明天, 后天, 下周一, 3天后; 跳过/不需要 → None."""
    text = text.strip().replace("／", "/")
    if text.lower() in SKIP_WORDS:
        return None
    result: date | None = None
    if text == "今天":
        result = today
    elif text in {"明天", "明日"}:
        result = today + timedelta(days=1)
    elif text == "后天":
        result = today + timedelta(days=2)
    elif m := re.fullmatch(r"(\d{1,3})\s*天后", text):
        result = today + timedelta(days=int(m.group(1)))
    elif m := re.fullmatch(r"(下)?(?:周|星期|礼拜)([一二三四五六日天])", text):
        target = _WEEKDAYS[m.group(2)]
        if m.group(1):
            monday_next = today + timedelta(days=7 - today.weekday())
            result = monday_next + timedelta(days=target)
        else:
            delta = (target - today.weekday()) % 7 or 7
            result = today + timedelta(days=delta)
    elif m := re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", text):
        result = date_or_none(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    elif m := re.fullmatch(r"(\d{1,2})[-/.月](\d{1,2})日?", text):
        month, day = int(m.group(1)), int(m.group(2))
        result = date_or_none(today.year, month, day)
        if result is not None and result < today:
            result = date_or_none(today.year + 1, month, day)
    if result is None:
        raise ServiceError(f"无法识别日期“{text}”，可写 2026-12-15、12-15、明天 或 下周一。")
    if result < today:
        raise ServiceError("下次跟进日期不能早于今天。")
    return result


def date_or_none(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
