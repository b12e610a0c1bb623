"""Parsing of what RMs type when logging a contact: channels, follow-up dates, the one-line form."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date

from bot.core import ServiceError
from bot.dates import upcoming_day
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
    result = upcoming_day(text, today)
    if result is None:
        raise ServiceError(f"无法识别日期“{text}”，可写 2026-12-15、12-15、明天 或 下周一。")
    if result < today:
        raise ServiceError("下次跟进日期不能早于今天。")
    return result
