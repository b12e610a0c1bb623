"""The review a supervisor can finish: true totals (= /stats), pages, date ranges, reviewed / comment /
escalate actions, the trainers' hand-offs and the actions export."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot import commands
from bot.composition import Services
from bot.convlog import ConversationLog
from bot.core import Clock, Request, ServiceError
from bot.features.supervision import ReviewLog, parse_window
from bot.features.supervision.chat import CALLBACK_LIMIT, decode_page, review_keyboard
from bot.rendering import Reply
from bot.settings import Settings
from crm_adapter import Channel, NewContact, Role, Staff
from knowledge import Answer
from tests.bot.app_fixtures import NOW, TODAY, make_services
from tests.bot.fakes import FakeCRM, FakeKB

_EXCHANGES = sa.table("bot_exchanges", sa.column("id"), sa.column("created_at", sa.DateTime(timezone=True)))


def backdate(log: ConversationLog, exchange_id: int, when: datetime) -> None:
    with log.engine.begin() as conn:
        conn.execute(sa.update(_EXCHANGES).where(_EXCHANGES.c.id == exchange_id).values(created_at=when))


def last_month(s: Services) -> tuple[date, date]:
    first = s.clock.today().replace(day=1)
    end = first - timedelta(days=1)
    return end.replace(day=1), end


def seed(s: Services, n: int = 25, start: date | None = None) -> list[int]:
    """`n` exchanges of RM001/RM002 spread over a month (default: last month): confident, unanswered
    (火星) and weak (弱), one a day from `start`."""
    start = start or last_month(s)[0]
    ids = []
    for i in range(n):
        question = ("钻石客户权益", "火星上的理财？", "弱依据的问题")[i % 3] + f" {i}"
        result = s.ask.ask(staff_code="RM001" if i % 2 else "RM002", question=question, channel="console")
        assert result.exchange_id is not None
        local = datetime.combine(start + timedelta(days=i % 28), time(9, i), s.clock.tz)
        backdate(s.log, result.exchange_id, local.astimezone(UTC))
        ids.append(result.exchange_id)
    return ids


def contact(crm: FakeCRM, summary: str, at: datetime) -> int:
    new = NewContact(client_id="C0001", channel=Channel.PHONE, summary=summary, occurred_at=at)
    return crm.create_contact(actor="RM001", contact=new).id


def month_end(s: Services) -> datetime:
    """18:00 on the last day of last month (after every seeded exchange)."""
    return datetime.combine(last_month(s)[1], time(18), s.clock.tz)


def run(s: Services, crm: FakeCRM, code: str, name: str, args: str = "") -> Reply:
    req = Request(staff=crm.get_staff(code=code), args=args, frontend="console")
    return commands.run_command(s, name, req)


def press(s: Services, crm: FakeCRM, code: str, data: str) -> Reply:
    assert len(data.encode()) <= CALLBACK_LIMIT
    return commands.run_callback(s, data, Request(staff=crm.get_staff(code=code), frontend="telegram"))


def button(reply: Reply, text: str) -> str:
    return next(b.data for row in reply.keyboard or () for b in row if text in b.text)


def refs(text: str) -> list[str]:
    """The item references of a review page, in order."""
    return re.findall(r"^(?:🚩|⬜|✅|⬆️) <code>([QC]\d+)</code>", text, flags=re.MULTILINE)


def span(words: list[str], today: date = TODAY) -> tuple[date, date]:
    w = parse_window(words, today)
    return w.since, w.until


def test_date_ranges_in_one_or_two_words() -> None:
    nov = (date(2026, 11, 1), date(2026, 11, 30))
    for words in (["2026-11-01", "2026-11-30"], ["2026-11-01~2026-11-30"], ["2026-11-01", "~", "2026-11-30"],
                  ["2026-11"], ["2026/11/01至2026/11/30"]):  # fmt: skip
        w = parse_window(words, TODAY)
        assert (w.since, w.until) == nov, words
    assert span(["本周"]) == (date(2026, 11, 23), TODAY)  # TODAY is a Saturday
    assert span(["上周"]) == (date(2026, 11, 16), date(2026, 11, 22))
    assert span(["本月"]) == (date(2026, 11, 1), TODAY)
    assert span(["上月"]) == (date(2026, 10, 1), date(2026, 10, 31))
    assert span(["上月"], date(2026, 3, 15)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert span(["7天"]) == (date(2026, 11, 22), TODAY)
    assert span(["2026-11-20"]) == (date(2026, 11, 20), date(2026, 11, 20))
    w = parse_window(["RM001", "2026-11-01", "2026-11-30", "第3页"], TODAY, allow_page=True)
    assert (w.rm, w.since, w.until, w.page) == ("RM001", *nov, 3)
    with pytest.raises(ServiceError, match="开始日期不能晚于结束日期"):
        parse_window(["2026-11-30", "2026-11-01"], TODAY)
    with pytest.raises(ServiceError, match="无法识别“下下周”"):
        parse_window(["RM001", "下下周"], TODAY)


def test_totals_match_stats_and_pages_cover_everything(live_services: Services, crm: FakeCRM) -> None:
    s = live_services
    ids = seed(s)
    end = month_end(s)
    ids_contacts = [contact(crm, "例行问候", end), contact(crm, "建议客户拆分转账", end)]  # 2nd: flagged
    reply = run(s, crm, "SUP01", "review", "上月")
    stats = run(s, crm, "SUP01", "stats", "上月")
    view = s.supervision.review(crm.get_staff(code="SUP01"), ["上月"])
    figures = s.supervision.stats(crm.get_staff(code="SUP01"), ["上月"])
    assert view.totals.exchanges == figures.stats.questions == 25
    assert view.totals.contacts == figures.contacts == 2
    assert (view.totals.mix.confident, view.totals.mix.weak, view.totals.mix.unanswered) == (9, 8, 8)
    assert (figures.mix.confident, figures.mix.weak, figures.mix.unanswered) == (9, 8, 8)
    assert "问答 25 条（有把握 9，依据较弱 8，未能回答 8）；联系记录 2 条" in reply.text
    assert "提问 25 次：有把握 9，依据较弱 8，未能回答 8" in stats.text
    assert "已复核 0/27" in reply.text and "第 1/3 页" in reply.text
    assert view.totals.unreviewed_flagged == 17 and "🚩 需关注 17" in reply.text
    assert "🚩 需关注 17（问答 16，联系记录 1）" in stats.text
    # flagged first: 16 flagged exchanges + 1 flagged contact lead, newest first
    assert all(i.flagged for i in view.items) and view.items[0].kind == "contact"
    # paging with the buttons: every item exactly once, in order
    seen = refs(reply.text)
    assert seen == [i.ref for i in view.items]
    page = reply
    for _ in range(2):
        page = press(s, crm, "SUP01", button(page, "下一页"))
        seen += refs(page.text)
    assert sorted(seen) == sorted([f"Q{i}" for i in ids] + [f"C{i}" for i in ids_contacts])
    assert "第 3/3 页" in page.text and "下一页" not in str(page.keyboard)
    back = press(s, crm, "SUP01", button(page, "上一页"))
    assert "第 2/3 页" in back.text
    # the console's way to turn pages
    assert "第 2/3 页" in run(s, crm, "SUP01", "review", "上月 第2页").text


def test_marking_moves_items_down_until_all_are_reviewed(live_services: Services, crm: FakeCRM) -> None:
    s = live_services
    ids = seed(s, 12)
    reply = run(s, crm, "SUP01", "review", "上月")
    assert "待复核 12" in reply.text and "🚩 需关注 8" in reply.text
    first = f"Q{ids[1]}"  # RM001, 火星: flagged
    done = run(s, crm, "SUP01", "reviewed", f"{first} Q{ids[0]}")
    assert f"已标记为已复核：{first}、Q{ids[0]}" in done.text
    again = run(s, crm, "SUP01", "reviewed", first)
    assert "之前已复核" in again.text
    after = s.supervision.review(crm.get_staff(code="SUP01"), ["上月"])
    assert after.totals.reviewed == 2 and first not in [i.ref for i in after.items]
    # a button marks one and shows the page again
    one = press(s, crm, "SUP01", button(reply, f"Q{ids[2]} 已复核"))
    assert one.text.startswith(f"✅ 已标记为已复核：Q{ids[2]}") and "已复核 3/12" in one.text
    # 本页全部已复核, twice: the second page's items come up on page 1
    page = press(s, crm, "SUP01", button(one, "本页 9 条"))
    assert page.text.startswith("✅ 已标记为已复核：") and "已复核 12/12，待复核 0" in page.text
    assert [b.text for row in page.keyboard or () for b in row] == ["下一页 ▶"]
    assert "🚩 需关注" not in page.text and "之前已复核" not in page.text
    assert len(refs(page.text)) == 10 and page.text.count("✅ <code>") == 10
    actions = ReviewLog(s.log).list_actions()
    assert len(actions) == 12 and {a.action for a in actions} == {"reviewed"}
    assert {a.actor for a in actions} == {"SUP01"}


def test_other_teams_items_are_refused(live_services: Services, crm: FakeCRM) -> None:
    s = live_services
    crm.add_staff(staff=Staff(code="RM009", name="周涛", role=Role.RM, team="B"))
    other = s.ask.ask(staff_code="RM009", question="钻石客户权益", channel="console").exchange_id
    with pytest.raises(ServiceError, match="不属于您的团队"):
        run(s, crm, "SUP01", "reviewed", f"Q{other}")
    with pytest.raises(ServiceError, match="找不到问答 Q999"):
        run(s, crm, "SUP01", "reviewed", "Q999")
    with pytest.raises(ServiceError, match="无法识别编号“12”"):
        run(s, crm, "SUP01", "reviewed", "12")
    with pytest.raises(ServiceError, match="仅供"):
        run(s, crm, "RM001", "reviewed", f"Q{other}")
    with pytest.raises(ServiceError, match="找不到联系记录 C999"):
        run(s, crm, "SUP01", "note", "C999 看看")


def test_comment_escalate_and_the_trainer_resolves(live_services: Services, crm: FakeCRM) -> None:
    s = live_services
    ids = seed(s, 3)
    wrong = f"Q{ids[0]}"
    record = contact(crm, "例行问候", month_end(s))
    assert "已记录对 C" in run(s, crm, "SUP01", "note", f"C{record} 请补充客户反馈 电话13812345678").text
    with pytest.raises(ServiceError, match="请写上评论内容"):
        run(s, crm, "SUP01", "note", f"C{record}")
    with pytest.raises(ServiceError, match="只有问答"):
        run(s, crm, "SUP01", "escalate", f"C{record} 原因")
    assert "已转交培训师" in run(s, crm, "SUP01", "escalate", f"{wrong} 回答遗漏了风险提示").text
    assert "已转交过" in run(s, crm, "SUP01", "escalate", wrong).text
    review = run(s, crm, "SUP01", "review", "上月")
    assert f"⬆️ <code>{wrong}</code>" in review.text and "回答遗漏了风险提示" in review.text
    assert "已转交培训师待处理 1" in review.text and "已复核 1/4" in review.text
    # the trainer sees it in /handoffs and /unanswered, and resolves it with the button
    handoffs = run(s, crm, "TRN01", "handoffs")
    assert wrong in handoffs.text and "回答遗漏了风险提示" in handoffs.text
    assert "李强" in handoffs.text and "陈静" in handoffs.text  # whose answer, who escalated it
    s.ask.ask(staff_code="RM001", question="火星上的保险？", channel="console")  # a gap of today
    gaps = run(s, crm, "TRN01", "unanswered")
    assert gaps.text.index("主管转交") < gaps.text.index("知识缺口")
    resolved = press(s, crm, "TRN01", button(handoffs, f"{wrong} 已处理"))
    assert f"已标记为已处理：{wrong}" in resolved.text and "目前没有待处理的主管转交" in resolved.text
    with pytest.raises(ServiceError, match="没有待处理的主管转交"):
        run(s, crm, "TRN01", "resolved", wrong)
    with pytest.raises(ServiceError, match="仅供"):
        run(s, crm, "SUP01", "resolved", wrong)
    # the export: every action, oldest first, numbers masked
    start = s.clock.utcnow() - timedelta(hours=1)
    actions = ReviewLog(s.log).list_actions(since=start, until=s.clock.utcnow() + timedelta(hours=1))
    assert [a.action for a in actions] == ["comment", "escalate", "resolve"]
    assert "13812345678" not in (actions[0].comment or "") and actions[0].ref == f"C{record}"
    row = actions[1].to_dict()
    assert row["item_kind"] == "exchange" and row["staff_code"] == "RM002" and row["actor"] == "SUP01"
    assert ReviewLog(s.log).list_actions(until=start) == []


def test_old_page_buttons_keep_their_order(
    settings: Settings, kb: FakeKB, crm: FakeCRM, log: ConversationLog
) -> None:
    """A page button of an older message shows that review's next page: items stored or reviewed since
    do not shift the pages (the marks shown are current)."""
    moment = [NOW]
    with make_services(settings, kb, crm, log, Clock("Asia/Shanghai", now=lambda: moment[0])) as s:
        seed(s, 25, start=date(2026, 11, 1))
        first = run(s, crm, "SUP01", "review", "本月")
        moment[0] = NOW + timedelta(minutes=1)
        second = s.supervision.review(crm.get_staff(code="SUP01"), ["本月", "第2页"])
        again = s.supervision.review(crm.get_staff(code="SUP01"), ["本月"])
        assert refs(first.text) == [i.ref for i in again.items]
        run(s, crm, "SUP01", "reviewed", " ".join(i.ref for i in second.items[:3]))
        later = seed(s, 2, start=date(2026, 11, 27))
        for exchange_id in later:
            backdate(s.log, exchange_id, NOW + timedelta(minutes=2))
        page = press(s, crm, "SUP01", button(first, "下一页"))
        assert refs(page.text) == [i.ref for i in second.items]
        assert page.text.count("✅ <code>") == 3
        fresh = s.supervision.review(crm.get_staff(code="SUP01"), ["本月"])
        assert fresh.totals.exchanges == 27 and f"Q{later[1]}" == fresh.items[0].ref  # newest flagged


def test_button_data_stays_within_64_bytes(live_services: Services, crm: FakeCRM) -> None:
    s = live_services
    long_code = "RM" + "X" * 30
    crm.add_staff(staff=Staff(code=long_code, name="长工号", role=Role.RM, team="A"))
    for i in range(12):
        exchange_id = s.ask.ask(staff_code=long_code, question=f"火星 {i}", channel="console").exchange_id
        assert exchange_id is not None
    view = s.supervision.review(crm.get_staff(code="SUP01"), [long_code])
    keyboard = review_keyboard(view)
    assert keyboard and all(len(b.data.encode()) <= CALLBACK_LIMIT for row in keyboard for b in row)
    snapshot, window = decode_page(next(b.data for row in keyboard for b in row if "下一页" in b.text)[3:])
    assert window.rm == long_code and window.page == 2 and snapshot >= view.snapshot.replace(microsecond=0)  # type: ignore[union-attr]


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


def test_review_log_on_both_databases(store: ConversationLog) -> None:
    """Migration 0003, the actions, the folded states, open escalations and the light exchange query."""
    answer = Answer(question="q", lead=("答",), citations=(), grounded=False)
    ids = [store.record(staff_code=f"RM00{i % 2 + 1}", channel="cli", question=f"问{i}", answer=answer).id
           for i in range(3)]  # fmt: skip
    reviews = ReviewLog(store)
    at = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    reviews.add_many([("exchange", ids[0], "RM001"), ("contact", 7, "RM001")], action="reviewed",
                     actor="SUP01", at=at)  # fmt: skip
    reviews.add(kind="exchange", item_id=ids[1], action="escalate", actor="SUP01", staff_code="RM002",
                at=at + timedelta(minutes=1), comment="身份证 110101199003071234 的客户")  # fmt: skip
    reviews.add(kind="exchange", item_id=ids[2], action="escalate", actor="SUP01", staff_code="RM001",
                at=at + timedelta(minutes=2))  # fmt: skip
    reviews.add(kind="exchange", item_id=ids[2], action="resolve", actor="TRN01", staff_code="RM001",
                at=at + timedelta(minutes=3), comment="已更新知识库")  # fmt: skip
    states = reviews.states("exchange", ids)
    assert states[ids[0]].reviewed and not states[ids[0]].escalated
    assert states[ids[1]].reviewed and states[ids[1]].escalated
    assert states[ids[2]].resolved and not states[ids[2]].escalated
    assert reviews.states("contact", [7])[7].reviewed
    [open_] = reviews.open_escalations()
    assert open_.item_id == ids[1] and "110101199003071234" not in (open_.comment or "")
    assert reviews.open_escalations(staff_codes=["RM001"]) == []
    exported = reviews.list_actions(since=at, until=at + timedelta(minutes=3))
    assert [a.action for a in exported] == ["reviewed", "reviewed", "escalate", "escalate"]
    assert exported[0].created_at == at
    heads = store.exchange_heads(staff_codes=["RM001"])
    assert [h.id for h in heads] == [ids[2], ids[0]] and all(h.flagged for h in heads)
    assert set(store.get_many([*ids, 999])) == set(ids)
    with pytest.raises(ValueError, match="unknown review action"):
        reviews.add(kind="exchange", item_id=1, action="delete", actor="SUP01", staff_code=None, at=at)


def test_message_checks_are_marked_and_commented_like_other_items(
    live_services: Services, crm: FakeCRM
) -> None:
    s = live_services
    flagged = s.message_check.check(crm.get_staff(code="RM001"), "这款产品保本保收益", channel="console")
    assert flagged.stored is not None
    ref = flagged.stored.ref
    assert re.fullmatch(r"M\d+", ref)
    opened = run(s, crm, "SUP01", "review", ref)
    assert "⬜ 待复核" in opened.text and f"/reviewed {ref}" in opened.text
    listed = run(s, crm, "SUP01", "review")
    assert f"🚩 <code>{ref}</code>" in listed.text
    noted = run(s, crm, "SUP01", "note", f"{ref} 已提醒RM删去保本说法 电话13812345678")
    assert f"已记录对 {ref}" in noted.text
    assert f"已标记为已复核：{ref}" in run(s, crm, "SUP01", "reviewed", ref.lower()).text
    assert f"之前已复核：{ref}" in run(s, crm, "SUP01", "reviewed", ref).text
    opened = run(s, crm, "SUP01", "review", ref)
    assert "✅ 已复核" in opened.text and "已提醒RM删去保本说法" in opened.text
    assert "13812345678" not in opened.text
    listed = run(s, crm, "SUP01", "review")
    assert f"✅ <code>{ref}</code>" in listed.text and "已提醒RM删去保本说法" in listed.text
    [row] = [a for a in ReviewLog(s.log).list_actions() if a.action == "reviewed"]
    assert (row.item_kind, row.ref, row.staff_code, row.actor) == ("check", ref, "RM001", "SUP01")
    # another team's check, an unknown one, and escalation (only exchanges go to the trainers)
    crm.add_staff(staff=Staff(code="RM009", name="周涛", role=Role.RM, team="B"))
    other = s.message_check.check(crm.get_staff(code="RM009"), "稳赚不赔", channel="console").stored
    assert other is not None
    for command, args in (("reviewed", other.ref), ("note", f"{other.ref} 看看"), ("reviewed", "M99999")):
        with pytest.raises(ServiceError, match="找不到消息检查"):
            run(s, crm, "SUP01", command, args)
    with pytest.raises(ServiceError, match="只有问答"):
        run(s, crm, "SUP01", "escalate", f"{ref} 原因")
