"""Conversation log on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.convlog import ConversationLog, FeedbackError
from knowledge import Answer, Citation


def make_answer(text: str = "钻石客户每年可预约专家挂号5次。[1]", *, grounded: bool = True) -> Answer:
    citations = (
        (
            Citation(
                n=1,
                source="bundled:03_增值服务权益.md",
                title="增值服务权益",
                text="钻石客户每年可预约专家挂号5次。",
            ),
        )
        if grounded
        else ()
    )
    return Answer(question="q", lead=(text,), citations=citations, grounded=grounded)


@pytest.fixture(params=["sqlite", "postgres"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConversationLog]:
    url = (
        f"sqlite:///{tmp_path / 'log.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    store = ConversationLog(url)
    yield store
    store.close()


def test_record_masks_personal_numbers(log: ConversationLog) -> None:
    exchange = log.record(
        staff_code="RM001",
        channel="telegram",
        question="客户身份证110101199003071234，手机13812345678，卡号6222021234567890123 怎么办",
        answer=make_answer("请核对 13812345678 的客户"),
        chat_id=1,
        update_id=10,
    )
    stored = log.get(exchange_id=exchange.id)
    assert stored is not None
    for raw in ("110101199003071234", "13812345678", "6222021234567890123"):
        assert raw not in stored.question
        assert raw not in stored.answer
    assert stored.citations[0]["n"] == 1
    assert stored.created_at.tzinfo is not None


def test_redelivered_update_is_stored_once(log: ConversationLog) -> None:
    first = log.record(
        staff_code="RM001", channel="telegram", question="a", answer=make_answer(), chat_id=5, update_id=7
    )
    again = log.record(
        staff_code="RM001", channel="telegram", question="a", answer=make_answer(), chat_id=5, update_id=7
    )
    assert again.id == first.id
    assert log.stats().questions == 1
    # Console exchanges have no update id and never collide.
    log.record(staff_code="RM001", channel="console", question="b", answer=make_answer())
    log.record(staff_code="RM001", channel="console", question="b", answer=make_answer())
    assert log.stats().questions == 3


def test_claim_update_only_once(log: ConversationLog) -> None:
    assert log.claim_update(channel="telegram", update_id=42) is True
    assert log.claim_update(channel="telegram", update_id=42) is False
    assert log.claim_update(channel="webhook", update_id=42) is True


def test_feedback_only_by_asker(log: ConversationLog) -> None:
    exchange = log.record(staff_code="RM001", channel="console", question="q", answer=make_answer())
    with pytest.raises(FeedbackError):
        log.set_feedback(exchange_id=exchange.id, staff_code="RM002", value="down")
    with pytest.raises(FeedbackError):
        log.set_feedback(exchange_id=exchange.id, staff_code="RM001", value="meh")
    with pytest.raises(FeedbackError):
        log.set_feedback(exchange_id=99999, staff_code="RM001", value="up")
    updated = log.set_feedback(exchange_id=exchange.id, staff_code="RM001", value="down")
    assert updated.feedback == "down" and updated.flagged and updated.feedback_at is not None


def test_flagged_first_and_scoped_listing(log: ConversationLog) -> None:
    ok = log.record(staff_code="RM001", channel="console", question="ok", answer=make_answer())
    no_source = log.record(
        staff_code="RM001", channel="console", question="天气", answer=make_answer("没有找到", grounded=False)
    )
    warned = log.record(
        staff_code="RM002", channel="console", question="保本吗", answer=make_answer(), flags=["承诺收益"]
    )
    other_team = log.record(staff_code="RM003", channel="console", question="x", answer=make_answer())

    listed = log.list_exchanges(staff_codes=["RM001", "RM002"])
    ids = [e.id for e in listed]
    assert other_team.id not in ids
    assert set(ids[:2]) == {no_source.id, warned.id}
    assert ids[2] == ok.id
    plain = log.list_exchanges(staff_codes=["RM001", "RM002"], flagged_first=False)
    assert [e.id for e in plain] == [warned.id, no_source.id, ok.id]


def test_unanswered_grouped_and_stats(log: ConversationLog) -> None:
    for staff in ("RM001", "RM002", "RM001"):
        log.record(
            staff_code=staff,
            channel="console",
            question="外汇 额度 怎么 算",
            answer=make_answer("无", grounded=False),
        )
    log.record(
        staff_code="RM001", channel="console", question="另一个问题", answer=make_answer("无", grounded=False)
    )
    log.record(staff_code="RM001", channel="console", question="有答案", answer=make_answer())
    unanswered = log.unanswered()
    assert unanswered[0].question == "外汇 额度 怎么 算"
    assert unanswered[0].times == 3 and unanswered[0].staff_codes == ("RM001", "RM002")
    assert len(unanswered) == 2
    stats = log.stats(staff_codes=["RM001"])
    assert (stats.questions, stats.grounded, stats.unanswered) == (4, 1, 3)
    assert stats.by_staff == {"RM001": 4}


def test_time_window(log: ConversationLog) -> None:
    log.record(staff_code="RM001", channel="console", question="q", answer=make_answer())
    now = datetime.now(UTC)
    assert len(log.list_exchanges(since=now - timedelta(minutes=5))) == 1
    assert log.list_exchanges(since=now + timedelta(minutes=5)) == []
    assert log.list_exchanges(until=now - timedelta(minutes=5)) == []
    assert [e.question for e in log.iter_exchanges(since=now - timedelta(minutes=5))] == ["q"]


def test_concurrent_redelivery_yields_one_row(log: ConversationLog) -> None:
    results: list[int] = []

    def deliver() -> None:
        results.append(
            log.record(
                staff_code="RM001",
                channel="telegram",
                question="q",
                answer=make_answer(),
                chat_id=1,
                update_id=99,
            ).id
        )

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1
    assert log.stats().questions == 1
