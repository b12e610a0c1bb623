"""The /stats chart: a PNG whose Chinese labels render (no tofu), sent with the text; the console saves it."""

from __future__ import annotations

import struct
import warnings
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import commands
from bot.composition import Services
from bot.console.session import ConsoleSession
from bot.convlog import LogStats
from bot.core import Request
from bot.features.supervision import chat, render_stats_chart, save_png
from bot.features.supervision.charts import chinese_font
from bot.features.supervision.views import AnswerMix, DayCounts, StatsView
from bot.rendering import Reply
from tests.bot.fakes import FakeCRM
from tests.bot.features.test_review_workbench import backdate

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: Every Chinese character the chart draws.
LABELS = "使用统计每日提问有把握依据较弱未能回答次数联系记录按客户经理员工需关注问答合规提示暂无数据王敏李强"


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_MAGIC)
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def sample_view(**changes: object) -> StatsView:
    since = date(2026, 11, 1)
    daily = tuple(DayCounts(since + timedelta(days=i), i % 4, i % 2, i % 3 == 0) for i in range(30))
    view = StatsView(
        since=since,
        until=date(2026, 11, 30),
        stats=LogStats(questions=90, grounded=70, by_staff={"RM001": 50, "RM002": 40}),
        contacts=12,
        contacts_by_staff={"RM001": 9, "RM002": 3},
        names={"RM001": "王敏", "RM002": "李强"},
        mix=AnswerMix(50, 20, 20),
        daily=daily,
        flagged_by_staff={"RM001": 4},
        flagged_contacts_by_staff={"RM002": 1},
    )
    return StatsView(**{**{f: getattr(view, f) for f in StatsView.__dataclass_fields__}, **changes})


def test_a_chinese_font_covers_every_label() -> None:
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    family = chinese_font()
    assert family is not None
    path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    font = FT2Font(path)
    missing = [ch for ch in LABELS if font.get_char_index(ord(ch)) == 0]
    assert missing == [], f"{family} ({path}) lacks {missing}"


@pytest.mark.parametrize(
    "view",
    [
        sample_view(),
        sample_view(with_contacts=False, contacts=0, contacts_by_staff={}, flagged_contacts_by_staff={}),
        sample_view(daily=(DayCounts(date(2026, 11, 1)),), stats=LogStats(), contacts_by_staff={},
                    flagged_by_staff={}, flagged_contacts_by_staff={}),
    ],
    ids=["supervisor", "trainer", "empty"],
)  # fmt: skip
def test_chart_is_a_png_without_missing_glyphs(view: StatsView, tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = render_stats_chart(view)
    assert not [w for w in caught if "missing from" in str(w.message)]  # matplotlib's tofu warning
    assert png_size(png) == (1000, 800) and len(png) > 10_000
    path = save_png(
        png, tmp_path / "charts", now=datetime(2026, 12, 1, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    )
    assert path.name.startswith("stats-20261201-083000")
    assert path.parent == tmp_path / "charts" and path.read_bytes() == png


def test_stats_reply_carries_the_chart_and_splits_weak_answers(live_services: Services, crm: FakeCRM) -> None:
    s = live_services
    today = s.clock.today()
    for i, question in enumerate(["钻石客户权益", "钻石客户权益", "弱依据的问题", "火星上的理财？"]):
        exchange_id = s.ask.ask(staff_code="RM001", question=question, channel="console").exchange_id
        assert exchange_id is not None
        day = today - timedelta(days=i)
        backdate(s.log, exchange_id, datetime.combine(day, time(10), s.clock.tz).astimezone(UTC))
    reply = commands.run_command(s, "stats", Request(staff=crm.get_staff(code="SUP01"), args="7天"))
    assert "提问 4 次：有把握 2，依据较弱 1，未能回答 1" in reply.text
    assert reply.photo is not None and reply.photo.startswith(PNG_MAGIC)
    view = s.supervision.stats(crm.get_staff(code="SUP01"), ["7天"])
    assert [(d.confident, d.weak, d.unanswered) for d in view.daily[-4:]] == [
        (0, 0, 1), (0, 1, 0), (1, 0, 0), (1, 0, 0)
    ]  # fmt: skip
    assert view.flagged_by_staff == {"RM001": 2}  # the weak and the unanswered one
    trainer = s.supervision.stats(crm.get_staff(code="TRN01"), ["7天"])
    assert not trainer.with_contacts and trainer.contacts_by_staff == {}


def test_a_failing_chart_leaves_the_figures(
    live_services: Services, crm: FakeCRM, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_view: StatsView) -> bytes:
        raise RuntimeError("no canvas")

    monkeypatch.setattr(chat, "render_stats_chart", broken)
    reply = commands.run_command(live_services, "stats", Request(staff=crm.get_staff(code="SUP01")))
    assert "使用统计" in reply.text and reply.photo is None


def test_console_saves_the_chart_under_the_data_dir(live_services: Services, crm: FakeCRM) -> None:
    out: list[str] = []
    session = ConsoleSession(live_services, crm.get_staff(code="SUP01"), input=input, output=out.append)
    session.handle("/stats 本月")
    [line] = [o for o in out if "图表已保存" in o]
    path = Path(line.split("：", 1)[1].rstrip("）"))
    assert path.is_file() and path.read_bytes().startswith(PNG_MAGIC)
    assert path.parent == live_services.settings.data_dir / "charts"
    session.show(Reply("没有图"))
    assert out[-1] == "没有图"
