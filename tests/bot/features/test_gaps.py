"""Knowledge gaps and curated answers: redaction for trainers, the clustered gap inbox, /curate, serving a
curated answer instead of the knowledge base's, and /kbusage (issue #11 item 3, issue #13 items 2-3)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot import commands
from bot.answer_flags import CURATED, WEAK_FLAG
from bot.composition import Services
from bot.convlog import ConversationLog
from bot.core import Clock, Request, ServiceError
from bot.features import ask
from bot.features.gaps import CuratedAnswers, CuratedStore, QuestionVectors, cluster
from bot.features.gaps.curated_store import PENDING
from bot.features.gaps.service import SHOWN_KEY, numbered, split_source
from bot.features.privacy import PLACEHOLDER, ClientPrivacy, ClientRedactor
from bot.rendering import Reply
from bot.settings import Settings
from knowledge import Answer, Citation
from knowledge.store import ChromaLocation, VectorCollection
from tests.bot.app_fixtures import make_services
from tests.bot.fakes import FakeCRM, FakeKB

NO_ANSWER = Answer(question="q", lead=("没有找到。",), citations=(), grounded=False, composer="none")
CITE = Citation(n=1, source="bundled:03.md", title="增值服务权益", text="…", heading="钻石")
WEAK = Answer(question="q", lead=("大概[1]。",), citations=(CITE,), grounded=True, confidence=0.2)

OPEN_ACCOUNT = [
    "张伟的太太想开户怎么办",
    "刘洋的老婆要来开户怎么办",
    "客户的妻子要开户，怎么办理？",
    "张薇的太太想开户，该怎么办？",
]
LOUNGE = ["白金客户能带家人进机场贵宾厅吗", "白金客户的同行家人可以用机场贵宾厅吗"]


def run(
    s: Services, crm: FakeCRM, code: str, name: str, args: str = "", state: dict[str, Any] | None = None
) -> Reply:
    """One command; `state`: the user's state between messages, as a front end keeps it (else none)."""
    req = Request(
        staff=crm.get_staff(code=code), args=args, frontend="console", state={} if state is None else state
    )
    return commands.run_command(s, name, req)


def approve(s: Services, crm: FakeCRM, ref: str, code: str = "CMP01") -> str:
    """The second pair of eyes: a compliance officer approves curated answer `ref` (A1)."""
    run(s, crm, code, "changes", ref)  # approvers read the whole answer first
    return run(s, crm, code, "approve", ref).text


def record(
    s: Services, code: str, question: str, answer: Answer = NO_ANSWER, flags: tuple[str, ...] = ()
) -> int:
    return s.log.record(staff_code=code, channel="telegram", question=question, answer=answer, flags=flags).id


# --- privacy ------------------------------------------------------------------------------------------
def test_redactor_replaces_known_names_longest_first_and_masks_numbers() -> None:
    redact = ClientRedactor(["张伟", "欧阳", "欧阳明", "David Li", "王"])
    assert redact("张伟的太太想开户怎么办") == "某客户的太太想开户怎么办"
    assert redact("欧阳明和张伟张伟") == "某客户和某客户"
    assert redact("david li 电话13812345678") == "某客户 电话138****5678"
    assert redact("王总问的") == "王总问的"  # one-character names are ordinary words
    assert PLACEHOLDER not in redact("钻石客户有哪些权益")


def test_privacy_rereads_names_after_its_ttl(crm: FakeCRM) -> None:
    now = [0.0]
    privacy = ClientPrivacy(crm, ttl=60, clock=lambda: now[0])
    assert privacy.redact("孙丽问") == "某客户问"
    crm.clients.clear()
    assert privacy.redact("孙丽问") == "某客户问"  # cached
    now[0] = 61
    assert privacy.redact("孙丽问") == "孙丽问"
    assert privacy.for_viewer(crm.get_staff(code="SUP01"))("孙丽问") == "孙丽问"


def test_trainers_see_no_client_names_supervisors_do(live_services: Services, crm: FakeCRM) -> None:
    s = live_services
    record(s, "RM001", "张伟的太太想开户怎么办，电话13812345678")
    record(s, "RM002", "孙丽的太太想开户怎么办，电话13812345678")
    trainer = s.supervision.unanswered(crm.get_staff(code="TRN01"))
    assert [(u.question, u.times) for u in trainer.items] == [
        ("某客户的太太想开户怎么办，电话138****5678", 2)
    ]
    sup = s.supervision.unanswered(crm.get_staff(code="SUP01"))
    assert {u.question for u in sup.items} == {
        "张伟的太太想开户怎么办，电话138****5678",
        "孙丽的太太想开户怎么办，电话138****5678",
    }
    text = run(s, crm, "TRN01", "unanswered").text
    assert "某客户的太太想开户怎么办" in text and "张伟" not in text and "孙丽" not in text


def test_escalations_shown_to_trainers_are_redacted(live_services: Services, crm: FakeCRM) -> None:
    s = live_services
    q = record(s, "RM001", "张伟能买私募吗", WEAK, flags=(WEAK_FLAG,))
    run(s, crm, "SUP01", "escalate", f"Q{q} 张伟的风险等级不够")
    for name in ("handoffs", "unanswered"):
        text = run(s, crm, "TRN01", name).text
        assert "某客户能买私募吗" in text and "某客户的风险等级不够" in text and "张伟" not in text
    sup = run(s, crm, "SUP01", "unanswered").text
    assert "张伟能买私募吗" in sup and "/curate" not in sup  # supervisors read; trainers curate


# --- clustering ---------------------------------------------------------------------------------------
def test_cluster_groups_by_distance_largest_first() -> None:
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    rows = np.array([b, a, a * 2, b + 0.01 * a, a + 0.01 * b, [0.7, 0.7]])
    assert cluster(rows) == [[1, 2, 4], [0, 3], [5]]
    assert cluster(rows[:1]) == [[0]] and cluster(rows[:0]) == []


def test_gap_inbox_clusters_by_meaning(live_services: Services, crm: FakeCRM) -> None:
    s = live_services
    for q in OPEN_ACCOUNT:
        record(s, "RM001", q)
    for q in LOUNGE:
        record(s, "RM002", q, WEAK, flags=(WEAK_FLAG,))
    down = record(s, "RM001", "钻石客户能带几位家人用贵宾厅", WEAK)
    s.log.set_feedback(exchange_id=down, staff_code="RM001", value="down")
    record(s, "RM001", "钻石客户有哪些权益", WEAK)  # weak by confidence but not flagged: not a gap
    view = s.gaps.inbox(crm.get_staff(code="TRN01"))
    assert view.questions == 7 and view.redacted
    first = view.clusters[0]
    assert first.count == 4 and first.signals == {"未能回答": 4}
    assert set(first.examples) == {
        "某客户的太太想开户怎么办",
        "某客户的老婆要来开户怎么办",
        "客户的妻子要开户，怎么办理？",
        "某客户的太太想开户，该怎么办？",
    }
    assert first.current_kind == "grounded"  # FakeKB answers it now
    lounge = next(c for c in view.clusters if "白金客户能带家人进机场贵宾厅吗" in c.examples)
    assert "白金客户的同行家人可以用机场贵宾厅吗" in lounge.examples and lounge.signals.get("依据较弱") == 2
    text = run(s, crm, "TRN01", "unanswered").text
    assert "<b>1.</b> 4 次【未能回答 4】" in text and "/curate" in text and "张伟" not in text


# --- curated answers ----------------------------------------------------------------------------------
def test_curate_the_biggest_cluster_then_a_paraphrase_gets_it(live_services: Services, crm: FakeCRM) -> None:
    s = live_services
    for q in OPEN_ACCOUNT:
        record(s, "RM001", q)
    record(s, "RM002", "火星上的理财产品？")
    run(s, crm, "TRN01", "unanswered")
    saved = run(s, crm, "TRN01", "curate", "1 请客户本人携带身份证到网点办理 来源：开户指引第2章").text
    assert (
        "已提交审定答案 <b>A1</b>" in saved and "待审批" in saved and "赵琳" in saved and "张伟" not in saved
    )
    assert s.curated.all() == []  # not served before a second person approved it
    assert "已批准审定答案 A1" in approve(s, crm, "A1")
    [c] = s.curated.all()
    assert c.source == "开户指引第2章" and c.author == "TRN01" and len(c.questions) == 4
    assert all("张伟" not in q and "刘洋" not in q for q in c.questions)
    result = s.ask.ask(staff_code="RM002", question="孙丽的太太想开户，该怎么办？", channel="console")
    assert result.curated is not None and result.curated.id == c.id
    assert result.answer.composer == CURATED and result.answer.citations[0].source == "curated:1"
    stored = s.log.get(exchange_id=result.exchange_id or 0)
    assert stored is not None and stored.composer == CURATED and stored.grounded
    rm = crm.get_staff(code="RM002")
    shown = ask.ask(s.ask, Request(staff=rm, args="孙丽的老婆想开户怎么办", frontend="console")).text
    assert "培训师审定" in shown and "赵琳" in shown and "请客户本人携带身份证" in shown
    other = s.ask.ask(staff_code="RM002", question="钻石客户有哪些权益", channel="console")
    assert other.curated is None and other.answer.composer != CURATED
    usage = run(s, crm, "TRN01", "kbusage").text
    assert "A1 2 次" in usage and "增值服务权益：1 次" in usage
    inbox = s.gaps.inbox(crm.get_staff(code="TRN01"))
    assert inbox.clusters[-1].curated_id == c.id  # covered now: listed after the open gaps


def test_curate_numbers_are_the_groups_last_seen_and_survive_a_restart(
    live_services: Services, crm: FakeCRM, settings: Settings, kb: FakeKB
) -> None:
    """Issue #19: the group numbers a trainer saw live in their per-user state (Telegram: persisted
    user_data; the console: its session), not in the service's memory: after a restart `/curate 1` still
    names the group they saw first, though the inbox now ranks another group first."""
    s = live_services
    for q in LOUNGE:
        record(s, "RM002", q, WEAK, flags=(WEAK_FLAG,))
    trainer = crm.get_staff(code="TRN01")
    state: dict[str, Any] = {}
    seen = commands.run_command(
        s, "unanswered", Request(staff=trainer, args="", frontend="console", state=state)
    )
    assert "<b>1.</b> 2 次" in seen.text and SHOWN_KEY in state
    for q in OPEN_ACCOUNT:  # a bigger group arrives: a fresh inbox would number it 1
        record(s, "RM001", q)
    persisted = json.loads(json.dumps(state, ensure_ascii=False))  # as PTB's user_data is stored
    with make_services(settings, kb, crm, s.log, Clock("Asia/Shanghai")) as restarted:
        assert set(numbered(restarted.gaps.inbox(trainer).clusters)["1"]["questions"]) != set(LOUNGE)
        args = "1 可以，凭登机牌同行 来源：贵宾厅指引"
        commands.run_command(restarted, "curate", Request(staff=trainer, args=args, frontend="console",
                                                          state=persisted))  # fmt: skip
        [pending] = restarted.curated.store.recent(statuses=(PENDING,))
        assert set(pending.questions) == set(LOUNGE) and SHOWN_KEY not in persisted  # numbers used up
        with pytest.raises(ServiceError, match="没有第 9 组"):  # a number not shown is never guessed
            restarted.gaps.curate(trainer, "9", "答案", shown={"1": {"questions": ["q"], "exchange_id": 1}})


def test_curated_answers_never_cross_tiers(live_services: Services, crm: FakeCRM) -> None:
    s = live_services
    q = record(s, "RM001", "钻石客户每年可以预约几次专家号")
    run(s, crm, "TRN01", "curate", f"Q{q} 每年 6 次")
    approve(s, crm, "A1", "ADM01")
    assert (
        s.ask.ask(staff_code="RM001", question="钻石客户一年能约几次专家号", channel="c").curated is not None
    )
    assert (
        s.ask.ask(staff_code="RM001", question="白金客户每年可以预约几次专家号", channel="c").curated is None
    )


def test_curate_refuses_bad_input_with_one_line(live_services: Services, crm: FakeCRM) -> None:
    s = live_services
    for args, message in [
        ("", "用法"),
        ("1", "用法"),
        ("9 答案", "没有第 9 组"),
        ("Q999 答案", "找不到问答 Q999"),
        ("x 答案", "用法"),
        ("1 " + "长" * 2001, "答案太长"),
    ]:
        with pytest.raises(ServiceError, match=message):
            run(s, crm, "TRN01", "curate", args)
    with pytest.raises(ServiceError, match="仅供"):
        run(s, crm, "RM001", "curate", "1 答案")


def test_split_source() -> None:
    assert split_source("答案内容 来源：产品手册") == ("答案内容", "产品手册")
    assert split_source("答案内容 出处: 第3章") == ("答案内容", "第3章")
    assert split_source("答案内容") == ("答案内容", None)


# --- storage on both databases ------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConversationLog]:
    url = (
        f"sqlite:///{tmp_path / 'log.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    log = ConversationLog(url)
    yield log
    log.close()


def test_curated_store_and_vectors_on_both_databases(store: ConversationLog, tmp_path: Path) -> None:
    """Migration 0004: curated answers with their question vectors, the vector cache, the matcher; the
    vectors are searched and read back in Chroma collections."""
    where = ChromaLocation(persist_dir=tmp_path / "chroma")
    calls: list[list[str]] = []

    def embed(texts: Sequence[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.array([[1.0, 0.0] if "开户" in t else [0.0, 1.0] for t in texts], dtype=np.float32)

    questions = VectorCollection(where, "rm_question_vectors")
    vectors = QuestionVectors(store.engine, embed, index=questions)
    got = vectors.get(["开户吗", "贵宾厅", "开户吗"])
    assert got.shape == (3, 2) and calls == [["开户吗", "贵宾厅"]] and questions.count() == 2
    again = QuestionVectors(store.engine, embed, index=questions)  # a new process: read back
    assert np.array_equal(again.get(["贵宾厅", "开户吗"]), got[[1, 0]]) and len(calls) == 1
    questions.delete(sorted(questions.ids()))  # a new Chroma: the database's copy fills it again
    third = QuestionVectors(store.engine, embed, index=questions)
    assert np.array_equal(third.get(["开户吗"]), got[[0]]) and len(calls) == 1 and questions.count() == 1
    privacy = ClientPrivacy(FakeCRM())
    index = VectorCollection(where, "rm_curated_questions")
    matcher = CuratedAnswers(
        store=CuratedStore(store.engine), vectors=vectors, index=index, redact=privacy.redact
    )
    assert matcher.match("张伟要开户") is None and len(calls) == 1  # nothing curated: nothing embedded
    added = matcher.add(
        questions=["某客户要开户", "某客户要开户"], answer="带身份证", source=None, author="TRN01",
        author_name="赵琳", exchange_id=7, at=datetime(2026, 12, 1, 2, tzinfo=UTC),
    )  # fmt: skip
    assert added.questions == ("某客户要开户",) and added.status == "pending"
    assert matcher.match("张伟要开户") is None  # pending: never served
    at = datetime(2026, 12, 1, 3, tzinfo=UTC)
    assert matcher.decide(added.id, new="live", at=at, decided_by="CMP01") is not None
    assert matcher.decide(added.id, new="rejected", at=at, decided_by="TRN02") is None  # decided once
    found = matcher.match("张伟要开户")
    assert found is not None and found.curated.id == added.id and calls[-1] == ["张伟要开户"]
    assert matcher.match("贵宾厅在哪") is None
    assert index.count() == 1  # the live question, searched in Chroma
    [listed] = CuratedStore(store.engine).list_all()
    assert listed.created_at == added.created_at and listed.exchange_id == 7 and listed.source is None
    assert matcher.retire(added.id) is not None and index.count() == 0 and matcher.match("张伟要开户") is None


def test_a_gap_question_is_embedded_when_asked(live_services: Services) -> None:
    """The inbox finds the vectors of questions asked since the last view already stored."""
    s = live_services
    s.ask.ask(staff_code="RM001", question="张伟在火星上能买理财吗", channel="console")  # unanswered
    s.ask.ask(staff_code="RM001", question="钻石客户权益", channel="console")  # answered: not embedded
    s.curated.vectors.close()  # waits for the background embedding

    def refuse(texts: Sequence[str]) -> np.ndarray:
        raise AssertionError(f"embedded again: {texts}")

    stored = QuestionVectors(s.log.engine, refuse)
    assert stored.get(["某客户在火星上能买理财吗"]).shape == (1, 384)
    with pytest.raises(AssertionError, match="embedded again"):
        stored.get(["钻石客户权益"])


def test_uncurate_stops_serving_an_answer(live_services: Services, crm: FakeCRM) -> None:
    s = live_services
    q = record(s, "RM001", "客户家属开户需要什么材料")
    run(s, crm, "TRN01", "curate", f"Q{q} 双方身份证件")
    approve(s, crm, "A1")
    assert s.ask.ask(staff_code="RM001", question="客户家属开户需要什么材料", channel="c").curated
    assert "停用：/uncurate" in run(s, crm, "TRN01", "kbusage").text
    assert "已停用审定答案 A1" in run(s, crm, "TRN01", "uncurate", "A1").text  # at once, no second person
    assert s.ask.ask(staff_code="RM001", question="客户家属开户需要什么材料", channel="c").curated is None
    for args, message in [("1", "没有正在使用或待审批的审定答案 A1"), ("x", "用法"), ("", "用法")]:
        with pytest.raises(ServiceError, match=message):
            run(s, crm, "TRN01", "uncurate", args)


def test_the_inbox_pages_past_eight_groups(live_services: Services, crm: FakeCRM) -> None:
    """Issue #19: `/unanswered` showed 8 groups with no "more" and no way to the ninth."""
    s = live_services
    questions = ["火星移民要办什么手续", "恐龙化石值多少钱", "量子纠缠能通信吗", "围棋定式怎么背",
                 "高山滑雪装备租赁", "深海潜水证书考试", "古琴指法入门教程", "火山喷发预警系统",
                 "极光观测最佳季节", "蜂蜜酿造发酵时间", "冲浪板尺寸选择", "天文望远镜口径"]  # fmt: skip
    for q in questions:
        record(s, "RM001", q)
    groups = len(s.gaps.clusters(s.gaps.gap_items(crm.get_staff(code="TRN01"))[1]))
    assert groups > 8  # more groups than one page
    trainer: dict[str, Any] = {}  # the trainer's state between messages (Telegram: user_data)
    first = run(s, crm, "TRN01", "unanswered", state=trainer).text
    assert "<b>8.</b>" in first and "<b>9.</b>" not in first
    assert f"还有 {groups - 8} 组，发送 /unanswered 2 查看下一页" in first
    second = run(s, crm, "TRN01", "unanswered", "2", trainer).text
    assert "<b>9.</b>" in second and f"<b>{groups}.</b>" in second and "<b>1.</b>" not in second
    assert "下一页" not in second
    saved = run(s, crm, "TRN01", "curate", "9 请婉拒并说明本行不提供此类咨询", trainer).text
    assert "已提交审定答案" in saved  # numbers run on across pages
    with pytest.raises(ServiceError, match="用法"):
        run(s, crm, "TRN01", "unanswered", "abc")
