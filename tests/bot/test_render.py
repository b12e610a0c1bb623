"""Renderers (bot.rendering and every feature's): escaping of hostile text, citations, keyboards,
splitting, plain-text variant."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from bot import rendering as render
from bot.features.ask import AskResult, render_answer
from bot.features.clients import ClientView, render_card, render_matches
from bot.features.contact_log import LogDraft
from bot.features.contact_log.flow import render_draft
from bot.features.knowledge_admin import render_hits
from crm_adapter import Channel, Client, ClientCard, ContactRecord, Tier
from knowledge import Answer, Citation, Hit
from knowledge.rules import Entitlement, RuleSource

HOSTILE = '<script>alert("x")</script> </b> & <a href="javascript:1">点我</a> &amp; 1<2'


def _balanced(text: str) -> bool:
    stack: list[str] = []
    for closing, name in re.findall(r"<(/?)([a-z]+)[^>]*>", text):
        if closing:
            if not stack or stack.pop() != name:
                return False
        else:
            stack.append(name)
    return not stack


def _no_raw_markup(text: str) -> bool:
    """Only our own tags remain; every & starts an entity."""
    tags = set(re.findall(r"</?([a-zA-Z]+)", text))
    bare_amp = re.search(r"&(?!(?:[a-z]+|#\d+);)", text)
    return tags <= {"b", "i", "code"} and bare_amp is None


def _client(**kw: object) -> Client:
    base: dict[str, object] = dict(
        client_id="C0001",
        name="张伟",
        pinyin="zhangwei",
        aum=Decimal("60000000"),
        tier=Tier.DIAMOND,
        risk_level="C3",
        rm_code="RM001",
        phone="13812345678",
        preferences="偏好稳健",
    )
    base.update(kw)
    return Client(**base)  # type: ignore[arg-type]


def test_answer_escapes_hostile_text_and_numbers_citations() -> None:
    answer = Answer(
        question=HOSTILE,
        lead=(f"根据规定 [1]，{HOSTILE} 见 [2]。",),
        citations=(
            Citation(n=1, source="bundled:a.md", title="权益<手册>", text="…", heading="钻石&白金"),
            Citation(n=2, source="bundled:b.md", title="反洗钱 </b>", text="…"),
        ),
        grounded=True,
    )
    reply = render_answer(AskResult(answer=answer, exchange_id=7, flags=("承诺收益",)))
    assert "<script>" not in reply.text
    assert _no_raw_markup(reply.text)
    assert _balanced(reply.text)
    assert "[1] 《权益&lt;手册&gt;》 · 钻石&amp;白金" in reply.text
    assert "[2] 《反洗钱 &lt;/b&gt;》" in reply.text
    assert "合规提示" in reply.text
    assert reply.keyboard is not None
    assert [b.data for b in reply.keyboard[0]] == ["fb:up:7", "fb:down:7"]
    # the plain variant shows the original characters again
    plain = render.to_plain(reply.text)
    assert HOSTILE in plain
    assert plain.count("参考依据") == 1  # the answer carries citations as data; one list, ours
    assert "<b>" not in plain


def test_ungrounded_answer_says_so() -> None:
    answer = Answer(question="q", lead=("没有找到相关内容。",), citations=(), grounded=False)
    reply = render_answer(AskResult(answer=answer, exchange_id=None))
    assert reply.text.startswith("🤔 没有找到相关内容")
    assert reply.keyboard is None


def test_client_card_and_matches_escape_everything() -> None:
    client = _client(name="张<b>伟", notes=HOSTILE, family="妻子 & 儿子")
    last = ContactRecord(
        id=1,
        client_id="C0001",
        rm_code="RM001",
        channel=Channel.PHONE,
        occurred_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        summary="讨论</i>配置",
        created_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
    )
    card = ClientCard(
        client=client,
        last_contact=last,
        days_since_contact=8,
        next_follow_up=date(2026, 11, 25),
        follow_up_overdue=True,
        upcoming_birthday=date(2026, 12, 1),
        days_to_birthday=3,
    )
    benefit = Entitlement(
        benefit="<机场贵宾厅>",
        aliases=(),
        tiers=("钻石",),
        asset=None,
        asset_text="",
        condition="持卡 & 预约",
        value="每年</b>12次",
        others="不享有",
        cite=RuleSource("s", "增值服务<表>", "钻石", "…"),
    )
    text = render_card(ClientView(card=card, entitlements=(benefit,), today=date(2026, 11, 28)))
    assert _no_raw_markup(text) and _balanced(text)
    assert "张&lt;b&gt;伟" in text
    assert "138****5678" in text and "13812345678" not in text
    assert "已逾期" in text and "钻石客户权益" in text
    reply = render_matches([client, _client(client_id="C0002", name="张薇")])
    assert reply.keyboard is not None
    assert [row[0].data for row in reply.keyboard] == ["client:C0001", "client:C0002"]
    assert _no_raw_markup(reply.text)


def test_log_draft_and_kb_hits_escape() -> None:
    draft = LogDraft(
        client=_client(), channel=Channel.WECHAT, summary=HOSTILE, next_follow_up=date(2026, 12, 15)
    )
    text = render_draft(draft)
    assert _no_raw_markup(text) and _balanced(text)
    assert "2026-12-15" in text
    hits = [Hit(chunk_id="1", text=HOSTILE, source="bundled:<x>.md", title="t&t", heading="", score=0.5)]
    text = render_hits(HOSTILE, hits)
    assert _no_raw_markup(text) and _balanced(text)
    assert "0.500" in text


@pytest.mark.parametrize("limit", [50, 200, 4096])
def test_split_html_respects_limit_and_never_cuts_tags_or_entities(limit: int) -> None:
    paragraphs = []
    for i in range(300):
        paragraphs.append(
            f"<b>第{i}段</b> " + html.escape("内容 & <数据> ") * (i % 7 + 1) + "<i>斜体&amp;</i>"
        )
    text = "\n\n".join(paragraphs)
    parts = render.split_html(text, limit=limit)
    assert len(parts) > 1
    for part in parts:
        assert len(part.encode("utf-16-le")) // 2 <= limit
        assert _balanced(part), part
        assert re.search(r"&(?!(?:[a-z]+|#\d+);)", part) is None, part  # no cut entity
        assert re.search(r"<[^>]*$", part) is None and re.search(r"^[^<]*>", part) is None
    # no text lost apart from whitespace at the cuts (tags may be re-opened)
    rejoined = re.sub(r"\s+", "", "".join(render.to_plain(p) for p in parts))
    assert rejoined == re.sub(r"\s+", "", render.to_plain(text))


def test_split_html_reopens_a_tag_cut_in_the_middle() -> None:
    text = "<b>" + "很长的粗体文字" * 100 + "</b>"
    parts = render.split_html(text, limit=120)
    assert len(parts) > 1
    for part in parts:
        assert part.startswith("<b>") and part.endswith("</b>")
        assert len(part) <= 120


def test_split_short_text_is_one_part() -> None:
    assert render.split_html("你好") == ["你好"]
    assert render.split_html("") == []


def test_split_counts_utf16_units() -> None:
    text = "👍" * 3000  # 6000 UTF-16 units although len() is 3000
    parts = render.split_html(text)
    assert len(parts) == 2
    assert all(len(p.encode("utf-16-le")) // 2 <= 4096 for p in parts)
