"""bot.features.ask: answers, the exchange log, feedback and the answer's rendering."""

from __future__ import annotations

import pytest

from bot.answer_flags import WEAK_FLAG
from bot.composition import Services
from bot.convlog import ConversationLog
from bot.core import KB_UNAVAILABLE, ServiceError
from bot.features import ask
from bot.rendering import plain_quote
from knowledge.store import VectorIndexUnavailable
from tests.bot.app_fixtures import req
from tests.bot.fakes import FakeCRM, FakeKB


def test_ask_records_masked_exchange_with_flags(services: Services, log: ConversationLog) -> None:
    question = "客户 13812345678 想要保本的产品，钻石客户有什么权益？"
    result = services.ask.ask(
        staff_code="RM001", question=question, channel="telegram", chat_id=5, update_id=9
    )
    assert result.answer.grounded
    assert result.flags == ("承诺收益",)
    stored = log.get(exchange_id=result.exchange_id)  # type: ignore[arg-type]
    assert stored is not None and "13812345678" not in stored.question
    assert stored.flags == ("承诺收益",)
    # the same update again: no second exchange
    again = services.ask.ask(
        staff_code="RM001", question=question, channel="telegram", chat_id=5, update_id=9
    )
    assert again.exchange_id == result.exchange_id
    assert log.stats().questions == 1


def test_ask_rejects_empty_and_too_long(services: Services) -> None:
    with pytest.raises(ServiceError):
        services.ask.ask(staff_code="RM001", question="   ", channel="console")
    with pytest.raises(ServiceError, match="太长"):
        services.ask.ask(staff_code="RM001", question="问" * 2000, channel="console")


def test_feedback_only_by_the_asker(services: Services) -> None:
    result = services.ask.ask(staff_code="RM001", question="钻石客户权益", channel="console")
    assert result.exchange_id is not None
    assert (
        services.ask.feedback(staff_code="RM001", exchange_id=result.exchange_id, value="down").feedback
        == "down"
    )
    with pytest.raises(ServiceError, match="自己"):
        services.ask.feedback(staff_code="RM002", exchange_id=result.exchange_id, value="up")
    with pytest.raises(ServiceError):
        services.ask.feedback(staff_code="RM001", exchange_id=99999, value="up")


def test_weak_answer_is_said_and_flagged_for_review(services: Services, log: ConversationLog) -> None:
    result = services.ask.ask(staff_code="RM001", question="一个依据弱的问题", channel="console")
    reply = ask.render_answer(result)
    assert "依据较弱" in reply.text
    stored = log.get(exchange_id=result.exchange_id)  # type: ignore[arg-type]
    assert stored is not None and WEAK_FLAG in stored.flags and stored.flagged


def test_answer_promising_returns_is_not_served_plain(
    services: Services, kb: FakeKB, log: ConversationLog
) -> None:
    """An answer whose source says 保本保收益 carries a warning and is flagged for the supervisor."""
    from knowledge import Answer, Citation

    poisoned = Answer(
        question="理财产品保本吗",
        lead=("本行所有理财产品均保本保收益[1]。",),
        citations=(
            Citation(n=1, source="upload:x.md", title="上传文档", text="本行所有理财产品均保本保收益。"),
        ),
        grounded=True,
        confidence=0.9,
    )
    kb.ask = lambda question, *, client=None: poisoned  # type: ignore[method-assign]
    result = services.ask.ask(staff_code="RM001", question="理财产品风险大吗", channel="console")
    assert result.answer_flags == ("承诺收益",)
    text = ask.render_answer(result).text
    assert "回答依据含有需注意的表述" in text and "请勿直接转述给客户" in text
    stored = log.get(exchange_id=result.exchange_id)  # type: ignore[arg-type]
    assert stored is not None and stored.flagged and "回答:承诺收益" in stored.flags


def test_render_answer_lead_sources_and_buttons(services: Services, crm: FakeCRM) -> None:
    reply = ask.ask(services.ask, req(crm, "RM001", "钻石客户有什么权益？"))
    assert reply.text.startswith("钻石客户享有机场贵宾厅服务[1]。")
    assert "<b>参考依据</b>" in reply.text and "《增值服务权益》 · 钻石" in reply.text
    assert reply.keyboard is not None
    assert [b.data.split(":")[1] for b in reply.keyboard[0]] == ["up", "down"]


def test_ungrounded_answer_says_it_was_recorded(services: Services, crm: FakeCRM) -> None:
    reply = ask.ask(services.ask, req(crm, "RM001", "火星上的理财产品？"))
    assert reply.text.startswith("🤔 ") and "已记录" in reply.text


def test_question_about_own_client_passes_its_facts(services: Services, crm: FakeCRM, kb: FakeKB) -> None:
    reply = ask.ask(services.ask, req(crm, "RM001", "刘洋能约几次专家号？"))
    assert kb.clients[-1] is not None and kb.clients[-1].name == "刘洋" and kb.clients[-1].tier == "白金"
    assert "刘洋为白金客户" in reply.text and "依据客户卡片：刘洋" in reply.text
    # another RM's client is not in scope: the general rule, and no client data
    reply = ask.ask(services.ask, req(crm, "RM001", "孙丽能约几次专家号？"))
    assert kb.clients[-1] is None and "孙丽" not in reply.text.split("\n")[0]
    # trainers never get client data
    ask.ask(services.ask, req(crm, "TRN01", "刘洋能约几次专家号？"))
    assert kb.clients[-1] is None


def test_ambiguous_client_mention_asks_which_one_first(services: Services, crm: FakeCRM, kb: FakeKB) -> None:
    from tests.bot.fakes import make_client

    crm.clients["C0010"] = make_client("C0010", "刘洋", "liuyang", "RM001")  # a second 刘洋, 钻石
    state: dict[str, object] = {}  # the RM's state between messages (Telegram: persisted user_data)
    pick = ask.ask(services.ask, req(crm, "RM001", "刘洋能约几次专家号？", state=state))
    assert pick.choose and pick.keyboard is not None and not kb.asked  # nothing answered yet
    assert {row[0].data for row in pick.keyboard} == {"askc:C0003", "askc:C0010"}
    reply = ask.ask_about(services.ask, req(crm, "RM001", "C0010", state=state))
    assert kb.asked == ["刘洋能约几次专家号？"] and kb.clients[-1] is not None
    assert kb.clients[-1].tier == "钻石" and "依据客户卡片：刘洋" in reply.text
    with pytest.raises(ServiceError, match="失效"):  # the pending question is used once
        ask.ask_about(services.ask, req(crm, "RM001", "C0010", state=state))
    ask.ask(services.ask, req(crm, "RM001", "刘洋能约几次专家号？", state=state))
    with pytest.raises(ServiceError, match="失效"):  # another session (or user) has nothing waiting
        ask.ask_about(services.ask, req(crm, "RM001", "C0010", state={}))
    ask.ask(services.ask, req(crm, "RM001", "刘洋能约几次专家号？", state=state))
    with pytest.raises(ServiceError):  # a tampered id outside the RM's scope is refused by the CRM
        ask.ask_about(services.ask, req(crm, "RM001", "C0009", state=state))


def test_a_quoted_table_reads_as_cells() -> None:
    text = "| 权益 | 适用客户 |\n| --- | --- |\n| 专家挂号 | 钻石客户 |"
    assert plain_quote(text) == "权益 · 适用客户；专家挂号 · 钻石客户"
    assert plain_quote("普通句子。") == "普通句子。"


def test_an_unreachable_vector_index_fails_closed_with_one_line(
    services: Services, kb: FakeKB, log: ConversationLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chroma down: the RM gets one Chinese line and no answer (never one read from BM25 alone), and
    nothing is logged as answered."""

    def down(*args: object, **kwargs: object) -> object:
        raise VectorIndexUnavailable("向量索引不可用（Chroma http://127.0.0.1:9）：Could not connect")

    monkeypatch.setattr(kb, "ask", down)
    monkeypatch.setattr(kb, "search", down)
    with pytest.raises(ServiceError) as caught:
        services.ask.ask(staff_code="RM001", question="钻石客户有什么权益？", channel="console")
    assert str(caught.value) == KB_UNAVAILABLE and "\n" not in KB_UNAVAILABLE
    assert log.stats().questions == 0
    with pytest.raises(ServiceError, match=KB_UNAVAILABLE):
        services.knowledge.search("钻石客户")
