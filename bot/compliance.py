"""Compliance warnings on what RMs write: questions to the assistant and contact-record summaries.

The rules are deliberately few and explicit (regular expressions over the text) so a supervisor can
read why something was flagged. A warning never blocks the RM; it is shown and stored for review.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from bot.rendering import esc
from knowledge import conduct

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Rule:
    label: str
    pattern: re.Pattern[str]


_RULES: tuple[_Rule, ...] = tuple(
    _Rule(label, re.compile(pattern, re.IGNORECASE))
    for label, pattern in (
        (
            "代客操作",
            r"代客(?:户)?(?:理财|操作|交易|下单)|(?:替|帮)客户(?:操作|下单|买入|卖出|交易|签字|签名)"
            r"|(?:替|帮)(?:他|她|客户).{0,4}(?:操作|下单|交易|转账)|客户的?(?:网银|交易|银行卡|账户)?密码|代为保管.{0,4}(?:卡|证件|密码|U盾)",
        ),
        (
            "泄露客户信息",
            r"(?:发给|告诉|透露|泄露|转给|卖给|外传).{0,10}客户(?:的)?(?:信息|资料|名单|电话|身份证|资产|账户)"
            r"|客户(?:的)?(?:信息|资料|名单|电话|资产)(?:表)?.{0,6}(?:发给|卖|外传|导出|拷贝|带走)",
        ),
        (
            "规避反洗钱",
            r"拆分.{0,6}(?:转账|汇款|交易|存款|取现)|分(?:多|几|成几)笔.{0,6}(?:转|汇|存|取)"
            r"|(?:规避|逃避|绕过|绕开|躲过).{0,8}(?:监管|申报|反洗钱|大额|报告|审查|尽职调查|尽调|KYC)"
            r"|匿名账户|假名开户|帮.{0,6}洗钱",
        ),
        (
            "不当利益",
            r"私下.{0,4}(?:交易|转账|收|借|理财)|飞单|返(?:现|利|佣)"
            r"|(?:收(?:受)?|给了?我).{0,4}(?:红包|礼金|回扣|好处费|购物卡)",
        ),
        ("内幕信息", r"内幕(?:消息|信息|交易)"),
        ("误导销售", r"隐瞒.{0,4}风险|不(?:用|必)(?:告知|提示|说明).{0,4}风险|夸大.{0,4}收益"),
    )
)


def check(text: str) -> tuple[str, ...]:
    """Return the compliance-warning labels (Chinese) that `text` triggers, in rule order.

    承诺收益 comes from the one conduct table (knowledge/conduct_rules.toml), as in the answer check and
    the message check; a question about it ("收益有保证吗") gets the reminder too."""
    if not text:
        return ()
    labels = conduct.promise_labels([text], asked=True)
    labels += tuple(rule.label for rule in _RULES if rule.pattern.search(text))
    if labels:
        logger.info("compliance warning(s) %s", ", ".join(labels))
    return labels


def describe(label: str) -> str:
    """A one-line reminder (Chinese) shown to the RM next to a warning label."""
    return _REMINDERS.get(label, "请注意合规要求。")


_REMINDERS: dict[str, str] = {
    "承诺收益": "不得向客户承诺保本或保证收益，须如实揭示产品风险。",
    "代客操作": "不得代客户操作交易、保管客户证件或获取客户密码。",
    "泄露客户信息": "客户信息须严格保密，不得向无关人员提供或外传。",
    "规避反洗钱": "不得协助拆分交易或规避反洗钱审查，可疑情况须按规定报告。",
    "不当利益": "不得私下交易、飞单或收受客户财物。",
    "内幕信息": "不得利用或传播内幕信息。",
    "误导销售": "销售时须充分揭示风险，不得夸大收益或隐瞒风险。",
}


def render_warning(flags: tuple[str, ...] | list[str]) -> str:
    """The warning block (Telegram HTML) shown under a reply that raised `flags`; "" when none."""
    if not flags:
        return ""
    lines = ["⚠️ <b>合规提示</b>：" + esc("、".join(flags))]
    lines += [f"• {esc(describe(f))}" for f in flags]
    return "\n".join(lines)
