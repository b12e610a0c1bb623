"""bot.features.ask with clients: names found anywhere in a question (longest first), the pick list, the
audit rows of what an answer showed of a client (fail closed), and bare "确认" outside a flow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.composition import Services, open_services
from bot.convlog import ConversationLog
from bot.core import Clock
from bot.features import ask
from bot.settings import Settings
from crm_adapter import Tier
from tests.bot.app_fixtures import NOW, req
from tests.bot.fakes import FakeCRM, FakeKB, make_client


@pytest.mark.parametrize(
    "question",
    ["刘洋手术住院安排有几次", "帮刘洋问下专家号", "请问刘洋客户今年还能体检吗", "LIU：刘洋"],
)
def test_a_client_is_found_wherever_the_name_stands(
    services: Services, crm: FakeCRM, kb: FakeKB, question: str
) -> None:
    reply = ask.ask(services.ask, req(crm, "RM001", question))
    assert kb.clients[-1] is not None and kb.clients[-1].name == "刘洋"
    assert "依据客户卡片：刘洋，白金客户" in reply.text


def test_the_longest_name_of_the_rms_own_clients_wins(services: Services, crm: FakeCRM, kb: FakeKB) -> None:
    crm.clients["C0011"] = make_client("C0011", "张伟明", "zhangweiming", "RM001", Tier.GOLD)
    ask.ask(services.ask, req(crm, "RM001", "张伟明手术住院安排有几次"))
    assert kb.clients[-1] is not None and kb.clients[-1].name == "张伟明"  # not a pick list with 张伟
    ask.ask(services.ask, req(crm, "RM001", "张伟手术住院安排有几次"))
    assert kb.clients[-1] is not None and kb.clients[-1].name == "张伟" and kb.clients[-1].tier == "钻石"
    # RM002 has no 张伟明 and no 张伟: another RM's client names nobody
    ask.ask(services.ask, req(crm, "RM002", "张伟明手术住院安排有几次"))
    assert kb.clients[-1] is None


def test_fragments_and_ordinary_words_name_nobody(services: Services, crm: FakeCRM, kb: FakeKB) -> None:
    crm.clients["C0012"] = make_client("C0012", "伟", "wei", "RM001")  # a one-character "name"
    crm.clients["C0013"] = make_client("C0013", "Li", "li", "RM001")
    for question in ("伟大的钻石客户有什么权益", "洋酒能送客户吗", "policy 里钻石客户的权益"):
        ask.ask(services.ask, req(crm, "RM001", question))
        assert kb.clients[-1] is None, question
    ask.ask(services.ask, req(crm, "RM001", "Li 能约几次专家号"))
    assert kb.clients[-1] is not None and kb.clients[-1].name == "Li"


def test_a_failing_client_lookup_still_answers_by_the_general_rule(
    services: Services, crm: FakeCRM, kb: FakeKB, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(**_kw: object) -> list[object]:
        raise RuntimeError("CRM down")

    monkeypatch.setattr(crm, "search_clients", down)
    reply = ask.ask(services.ask, req(crm, "RM001", "刘洋能约几次专家号"))
    assert kb.clients[-1] is None and "依据客户卡片" not in reply.text


@pytest.mark.parametrize("text", ["确认", "取消", "好的", "是", "否", "ok", "OK!", " 好的。 ", "ｏｋ"])
def test_a_bare_confirmation_outside_a_flow_gets_a_hint(
    services: Services, crm: FakeCRM, kb: FakeKB, log: ConversationLog, text: str
) -> None:
    reply = ask.ask(services.ask, req(crm, "RM001", text))
    assert reply.text == ask.NOTHING_TO_CONFIRM and "/log" in reply.text
    assert kb.asked == [] and log.stats().questions == 0  # not a question: nothing answered or logged


def test_a_question_containing_a_confirmation_word_is_answered(
    services: Services, crm: FakeCRM, kb: FakeKB
) -> None:
    ask.ask(services.ask, req(crm, "RM001", "确认一下钻石客户的体检次数"))
    assert kb.asked == ["确认一下钻石客户的体检次数"]


# --- audit: SQLite and PostgreSQL, log and trail on one database or two -----------------------------
@pytest.fixture(
    params=[
        "sqlite",
        "sqlite-separate",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def audited(request: pytest.FixtureRequest, tmp_path: Path, kb: FakeKB, crm: FakeCRM) -> Iterator[Services]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    settings = Settings(rm_data_dir=tmp_path / "data", database_url=url, _env_file=None)  # type: ignore[call-arg]
    separate = request.param == "sqlite-separate"
    log = ConversationLog(f"sqlite:///{tmp_path / 'log.db'}" if separate else settings.effective_database_url)
    crm.clients["C0010"] = make_client("C0010", "刘洋", "liuyang", "RM001")  # a second 刘洋, 钻石
    with open_services(settings, kb=kb, crm=crm, log=log, clock=Clock("Asia/Shanghai", now=lambda: NOW)) as s:
        assert s.audit is not None and s.audit.shares_database(log.engine) is not separate
        yield s
    log.close()


def test_the_pick_list_and_an_answers_client_facts_are_audited(audited: Services, crm: FakeCRM) -> None:
    s = audited
    assert s.audit is not None
    state: dict[str, object] = {}
    pick = ask.ask(s.ask, req(crm, "RM001", "刘洋能约几次专家号？客户电话13812345678", state=state))
    assert pick.choose
    [listed] = s.audit.find(kind="client_list", ref="ask")
    assert listed.actor == "RM001" and listed.payload["clients"] == ["C0003", "C0010"]
    assert "13812345678" not in listed.payload["question"]
    reply = ask.ask_about(s.ask, req(crm, "RM001", "C0003", state=state))
    exchange_id = reply.keyboard[0][0].data.rsplit(":", 1)[1] if reply.keyboard else ""
    [read] = s.audit.find(kind="client_read", ref="C0003")
    assert read.actor == "RM001" and read.payload["what"] == "answer"
    assert read.payload["tier"] == "白金" and read.payload["aum_band"] in reply.text
    [answer] = s.audit.find(kind="answer", ref=exchange_id)
    assert answer.payload["client"] == "C0003"
    # a question about no client reads no client data
    ask.ask(s.ask, req(crm, "RM001", "钻石客户有什么权益？"))
    assert len(s.audit.find(kind="client_read", ref="C0003")) == 1 and s.audit.verify().ok


def test_nothing_is_shown_of_a_client_when_the_audit_fails(
    audited: Services, crm: FakeCRM, kb: FakeKB, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: the trail refuses writes → no pick list, no client-aware answer, nothing logged."""
    s = audited
    assert s.audit is not None

    def refuse(*_a: object, **_kw: object) -> None:
        raise sa.exc.OperationalError("INSERT INTO audit_chain …", {}, Exception("disk I/O error"))

    monkeypatch.setattr(s.audit, "append", refuse)
    monkeypatch.setattr(s.audit, "append_in", refuse)
    state: dict[str, object] = {}
    with pytest.raises(sa.exc.OperationalError):
        ask.ask(s.ask, req(crm, "RM001", "刘洋能约几次专家号？", state=state))  # the pick list
    with pytest.raises(sa.exc.OperationalError):
        ask.ask(s.ask, req(crm, "RM001", "张伟能约几次专家号？"))  # one client: the answer with its facts
    assert s.log.stats().questions == 0
    monkeypatch.undo()
    with pytest.raises(Exception, match="失效"):  # the pick list was never shown: nothing waits for a pick
        ask.ask_about(s.ask, req(crm, "RM001", "C0003", state=state))
    reply = ask.ask(s.ask, req(crm, "RM001", "张伟能约几次专家号？"))
    assert "依据客户卡片：张伟" in reply.text and s.audit.find(kind="client_read", ref="C0001")
