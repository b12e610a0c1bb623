"""Four-eyes curated answers (issue #13 item 3, issue #12 item 5): a trainer's /curate is pending and never
served until another trainer, a compliance officer or an admin approves it in /changes (A refs next to
documents' K refs); decisions are made once; every step is in the audit trail; /uncurate is immediate.
Also the key-term guard of the matcher (体检 is not 洗牙) and migration 0006 on existing answers."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from bot import commands
from bot.audit import AuditTrail
from bot.composition import Services, open_services
from bot.convlog import ConversationLog, create_store_engine
from bot.core import Clock, Request, ServiceError
from bot.features.gaps.curated_terms import key_terms, numbers, same_key_terms
from bot.rendering import Reply
from bot.settings import Settings
from crm_adapter import Role, Staff
from knowledge import Answer
from tests.bot.fakes import FakeCRM, FakeKB

QUESTION = "客户家属开户需要什么材料"
PARAPHRASE = "客户的家人来开户要带哪些资料"


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Iterator[Services]:
    crm = FakeCRM()
    crm.add_staff(staff=Staff(code="TRN02", name="孙悦", role=Role.TRAINER, telegram_id=3002))
    url = (
        f"sqlite:///{tmp_path / 'app.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    log = ConversationLog(url)
    audit = AuditTrail(create_store_engine(url))
    clock = Clock("Asia/Shanghai")  # the log stamps rows with the real clock; the inbox window must agree
    with open_services(settings, kb=FakeKB(), crm=crm, log=log, audit=audit, clock=clock) as s:
        yield s
    audit.close()
    log.close()


def req(s: Services, code: str, args: str = "") -> Request:
    return Request(staff=s.crm.get_staff(code=code), args=args, frontend="console")


def run(s: Services, code: str, line: str) -> Reply:
    name, _, args = line.lstrip("/").partition(" ")
    return commands.run_command(s, name, req(s, code, args))


def approve(s: Services, code: str, ref: str) -> Reply:
    """An approver reads the whole answer (`/changes A1`), then approves it."""
    run(s, code, f"/changes {ref}")
    return run(s, code, f"/approve {ref}")


def curate(s: Services, question: str = QUESTION, answer: str = "双方身份证件及关系证明") -> str:
    q = s.log.record(staff_code="RM001", channel="c", question=question, answer=_no_answer()).id
    return run(s, "TRN01", f"/curate Q{q} {answer} 来源：开户指引").text


def _no_answer() -> Answer:
    return Answer(question="q", lead=("没有找到。",), citations=(), grounded=False, composer="none")


def served(s: Services, question: str = PARAPHRASE) -> bool:
    return s.ask.ask(staff_code="RM002", question=question, channel="c").curated is not None


def test_an_unapproved_curated_answer_is_never_served(world: Services) -> None:
    s = world
    assert "待审批" in curate(s) and not served(s) and not served(s, QUESTION)
    with pytest.raises(ServiceError, match="四眼原则"):
        run(s, "TRN01", "/approve A1")  # never the author
    with pytest.raises(ServiceError, match="仅供"):
        run(s, "RM001", "/approve A1")
    assert not served(s) and s.curated.all() == []
    assert "⏳ 审定答案 A1 待审批" in run(s, "TRN01", "/unanswered").text  # so it is not written twice
    unread = run(s, "TRN02", "/approve A1")  # not read yet: the whole answer is shown, nothing approved
    assert "批准前请先阅读全文" in unread.text and "双方身份证件及关系证明" in unread.text and not served(s)
    assert "已批准审定答案 A1" in run(s, "TRN02", "/approve A1").text
    assert served(s) and served(s, QUESTION)
    with pytest.raises(ServiceError, match="不能再审批"):
        run(s, "CMP01", "/reject A1 重复")


def test_rejected_and_withdrawn_answers_are_never_served(world: Services) -> None:
    s = world
    curate(s)
    assert "已驳回审定答案 A1" in run(s, "CMP01", "/reject A1 缺少关系证明的要求").text
    curate(s, "客户想开通手机银行", "在手机银行 App 注册")
    assert "已撤回审定答案 A2" in run(s, "TRN01", "/reject A2").text  # the author withdraws
    curate(s, "信用卡额度怎么提高", "在手机银行申请提额")
    assert "已停用审定答案 A3" in run(s, "TRN01", "/uncurate A3").text  # withdrawing a pending one
    for ref in ("A1", "A2", "A3"):
        with pytest.raises(ServiceError, match="不能再审批"):
            run(s, "TRN02", f"/approve {ref}")
    assert (
        not served(s)
        and not served(s, "怎么帮客户开手机银行")
        and not served(s, "客户想提升信用卡额度怎么办")
    )
    listing = run(s, "CMP01", "/changes").text
    assert "没有待审批的变更" in listing and "缺少关系证明的要求" in listing and "提交人撤回" in listing


def test_changes_lists_curated_answers_next_to_documents_and_buttons_decide(
    world: Services, tmp_path: Path
) -> None:
    s = world
    doc = tmp_path / "高尔夫权益.md"
    doc.write_text("# 高尔夫权益\n\n钻石客户每年可预约高尔夫练习场 4 次。\n", encoding="utf-8")
    s.approvals.submit(s.crm.get_staff(code="TRN01"), doc)
    curate(s)
    mine = run(s, "TRN01", "/changes")
    assert "K1" in mine.text and "A1" in mine.text and "双方身份证件及关系证明" in mine.text
    theirs = run(s, "CMP01", "/changes")
    assert "待审批（2）" in theirs.text and theirs.keyboard is not None
    data = [b.data for row in theirs.keyboard for b in row]
    assert data == ["kcv:K1:1", "kcv:A1:1"]  # the approve buttons are under the full text only
    full = commands.run_callback(s, "kcv:A1:1", req(s, "CMP01"))
    assert full.keyboard is not None and [b.data for row in full.keyboard for b in row] == [
        "kcok:A1",
        "kcno:A1",
    ]
    own = commands.run_callback(s, "kcv:A1:1", req(s, "TRN01"))
    assert own.keyboard is None  # no buttons for one's own change
    pressed = commands.run_callback(s, "kcok:A1", req(s, "CMP01"))
    assert "已批准审定答案 A1" in pressed.text and served(s)
    assert s.approvals.get(1).status == "pending"  # the document's K1 is another change
    assert "A1 审定答案" in run(s, "TRN02", "/changes").text  # among the recent decisions


def test_concurrent_approvals_decide_once(world: Services) -> None:
    s = world
    curate(s)

    def approve(code: str) -> str:
        try:
            return s.curated_changes.approve(s.crm.get_staff(code=code), 1).status
        except ServiceError as exc:
            return str(exc)

    with ThreadPoolExecutor(3) as pool:
        outcomes = list(pool.map(approve, ["TRN02", "CMP01", "ADM01"]))
    assert outcomes.count("live") == 1, outcomes
    assert s.audit is not None
    actions = [e.payload["action"] for e in s.audit.find(kind="curated_change", ref="A1")]
    assert actions == ["submit", "approve"]


def test_every_step_is_in_the_audit_trail(world: Services) -> None:
    s = world
    curate(s)
    approve(s, "TRN02", "A1")
    run(s, "TRN01", "/uncurate A1")
    assert s.audit is not None
    events = s.audit.find(kind="curated_change", ref="A1")
    assert [(e.actor, e.payload["action"]) for e in events] == [
        ("TRN01", "submit"), ("TRN02", "approve"), ("TRN01", "retire"),
    ]  # fmt: skip
    assert events[0].payload["answer"] == "双方身份证件及关系证明" and events[1].payload["status"] == "live"
    assert s.audit.verify().ok and not served(s)


def test_an_approval_that_cannot_be_audited_is_not_served(
    world: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = world
    curate(s)
    assert s.audit is not None

    def broken(**_: object) -> None:
        raise RuntimeError("audit database down")

    monkeypatch.setattr(s.audit, "append", broken)
    monkeypatch.setattr(s.audit, "append_in", broken)  # the approval's own transaction appends
    with pytest.raises(ServiceError, match="未启用"):
        approve(s, "TRN02", "A1")
    monkeypatch.undo()
    assert not served(s) and s.curated_changes.get(1).status == "pending"


# --- key terms ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("体检权益每年几次", "洗牙权益每年几次"),
        ("白金客户有没有机场贵宾厅服务", "白金客户有没有高铁贵宾厅服务"),
        ("大额转账需要提前预约吗", "大额取现需要提前预约吗"),
        ("客户想开通手机银行", "客户想注销手机银行"),
        ("私募基金的起购金额是多少", "信托产品的起购金额是多少"),
        ("65岁以上客户能买R4产品吗", "七十岁以上客户能买R4产品吗"),
    ],
)
def test_one_key_word_apart_is_not_the_same_question(a: str, b: str) -> None:
    assert not same_key_terms(a, b) and not same_key_terms(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("体检权益每年几次", "健康体检一年能安排多少次"),
        ("理财产品可以提前赎回吗", "买的理财能不能提前取出来"),
        ("私募基金的起购金额是多少", "私募产品最低买多少"),
        ("客户想办理财富传承信托", "客户咨询家族信托怎么做"),
        ("可以给客户承诺收益吗", "能不能跟客户保证理财收益"),  # one side only adds a term
        ("七十岁以上的客户能买理财产品吗", "70岁以上客户可以买理财吗"),
    ],
)
def test_paraphrases_keep_their_key_terms(a: str, b: str) -> None:
    assert same_key_terms(a, b) and same_key_terms(b, a)


def test_key_terms_longest_first_and_numbers() -> None:
    assert key_terms("客户孩子留学要开存款证明") == {"存款证明", "@子女"}  # not 存款; the child is who
    assert key_terms("客户想办理财富传承信托") == {"信托"}  # not 理财
    assert numbers("每年两次，一年 3 次，七十岁") == {"2", "3", "70"}


def test_a_curated_answer_is_not_served_for_a_question_one_key_word_apart(world: Services) -> None:
    s = world
    curate(s, "体检权益每年几次", "钻石客户每年 2 次")
    approve(s, "CMP01", "A1")
    assert served(s, "健康体检一年能安排多少次")
    assert not served(s, "洗牙权益每年几次")


# --- migration 0006 -----------------------------------------------------------------------------------
def test_migration_keeps_answers_served_before_it(tmp_path: Path) -> None:
    from bot import migrations

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrations.upgrade(engine, "bot_0005")
    at = datetime(2026, 11, 1, tzinfo=UTC)
    with engine.begin() as conn:
        for active in (True, False):
            conn.execute(
                sa.text(
                    "INSERT INTO bot_curated_answers (question, answer, author, author_name, active, "
                    "created_at) VALUES ('q', 'a', 'TRN01', '赵琳', :active, :at)"
                ),
                {"active": active, "at": at},
            )
        conn.execute(
            sa.text("INSERT INTO bot_curated_questions (curated_id, question, vector) VALUES (1, 'q', :v)"),
            {"v": np.ones(384, dtype=np.float32).tobytes()},
        )
    migrations.upgrade(engine)
    from bot.features.gaps import CuratedStore

    store = CuratedStore(engine)
    assert [a.status for a in store.recent()] == ["retired", "live"]
    assert [a.id for a in store.list_all()] == [1] and len(store.vectors()) == 1
    engine.dispose()


CURATED_FOR = "外籍保姆代办开户怎么办"


@pytest.mark.parametrize(
    "question",
    [
        "外籍司机代办开户怎么办",
        "外籍律师代办开户要什么",
        "中国籍保姆代办开户怎么办",
        "未成年子女代办开户怎么办",
        "保姆代办开户怎么办",
        "香港保姆代办开户怎么办",
        "客户秘书代办开户怎么办",
    ],
)
def test_a_curated_answer_is_not_served_for_another_person(question: str) -> None:
    """Issue #18 item 4: the answer approved for 外籍保姆代办开户 was served for 外籍司机, 外籍律师,
    中国籍保姆 and 未成年子女. The person, their nationality and age group must agree (synonyms allowed)."""
    assert not same_key_terms(CURATED_FOR, question)


@pytest.mark.parametrize(
    "question", ["外国人保姆帮客户代办开户", "外籍家政代客户开户怎么弄", "外籍保姆替客户开户咋办"]
)
def test_the_same_person_in_other_words_still_matches(question: str) -> None:
    assert same_key_terms(CURATED_FOR, question)


def test_family_covers_a_member_but_members_differ() -> None:
    assert same_key_terms("客户家人能开户吗", "客户老婆能开户吗")
    assert not same_key_terms("客户老婆能开户吗", "客户孩子能开户吗")
