"""The /stats chart: questions per day (confident / weak / unanswered), contacts per RM, flagged items.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, no global figure state);
Chinese labels use Noto Sans SC from the `pylopdf-fonts-zh-cn` wheel (a dependency, so `pip install`
brings it), else a CJK font installed on the machine (fonts-noto-cjk, fonts-wqy-microhei, …).
"""

from __future__ import annotations

import functools
import io
import logging
import threading
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.rendering import fmt_range

if TYPE_CHECKING:
    from bot.features.supervision.views import StatsView

logger = logging.getLogger(__name__)

#: CJK families to look for among the installed fonts when the bundled one is missing, best first.
CJK_FAMILIES = (
    "Noto Sans SC",
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK JP",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
)
COLORS = {"confident": "#2e7d32", "weak": "#f9a825", "unanswered": "#c62828", "contacts": "#1565c0"}
#: At most this many staff per bar chart (the busiest ones).
MAX_BARS = 15

# matplotlib's font cache and rc parameters are process-wide: one chart at a time.
_lock = threading.Lock()


@functools.cache
def chinese_font() -> str | None:
    """The family name of a font with Chinese glyphs (registered with matplotlib), or None."""
    from matplotlib import font_manager

    try:
        import pylopdf_fonts_zh_cn

        path = Path(pylopdf_fonts_zh_cn.sans_path())
        if path.is_file():
            font_manager.fontManager.addfont(str(path))
            return str(font_manager.FontProperties(fname=str(path)).get_name())
    except Exception:  # a missing or broken font package: fall back to the machine's fonts
        logger.debug("bundled Chinese font unavailable", exc_info=True)
    installed = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in installed:
            return family
    logger.warning(
        "no Chinese font found: chart labels will not render (pip install pylopdf-fonts-zh-cn, "
        "or apt-get install fonts-noto-cjk)"
    )
    return None


def render_stats_chart(view: StatsView) -> bytes:
    """The PNG of a /stats view."""
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    family = chinese_font()
    families = [family, "DejaVu Sans"] if family else ["DejaVu Sans"]
    with _lock, rc_context({"axes.unicode_minus": False, "font.size": 10, "font.family": families}):
        fig = Figure(figsize=(10, 8), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        grid = fig.add_gridspec(2, 2, height_ratios=(1.1, 1))
        fig.suptitle(f"使用统计 {fmt_range(view.since, view.until)}", fontsize=14)
        _daily(fig.add_subplot(grid[0, :]), view)
        if view.with_contacts:
            _bars(fig.add_subplot(grid[1, 0]), "联系记录（按客户经理）", view.contacts_by_staff, view.names)
        else:
            _bars(fig.add_subplot(grid[1, 0]), "提问（按员工）", view.stats.by_staff, view.names)
        _flagged(fig.add_subplot(grid[1, 1]), view)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    return buf.getvalue()


def _empty(ax: Any, title: str) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, "暂无数据", ha="center", va="center", transform=ax.transAxes, color="#777777")
    ax.set_xticks([])
    ax.set_yticks([])


def _daily(ax: Any, view: StatsView) -> None:
    title = "每日提问"
    days = view.daily
    if not any(d.confident or d.weak or d.unanswered for d in days):
        _empty(ax, title)
        return
    x = list(range(len(days)))
    confident = [d.confident for d in days]
    weak = [d.weak for d in days]
    unanswered = [d.unanswered for d in days]
    ax.bar(x, confident, color=COLORS["confident"], label="有把握")
    ax.bar(x, weak, bottom=confident, color=COLORS["weak"], label="依据较弱")
    below = [c + w for c, w in zip(confident, weak, strict=True)]
    ax.bar(x, unanswered, bottom=below, color=COLORS["unanswered"], label="未能回答")
    step = max(1, len(days) // 15)
    ax.set_xticks(x[::step], [f"{d.day:%m-%d}" for d in days[::step]], rotation=45, ha="right")
    ax.set_title(title)
    ax.set_ylabel("次数")
    ax.set_ylim(0, max(c + w + u for c, w, u in zip(confident, weak, unanswered, strict=True)) * 1.25)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="upper left", frameon=False, ncols=3)
    ax.spines[["top", "right"]].set_visible(False)


def _top(values: Mapping[str, int]) -> list[tuple[str, int]]:
    return sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_BARS]


def _bars(ax: Any, title: str, values: Mapping[str, int], names: Mapping[str, str]) -> None:
    rows = _top({k: v for k, v in values.items() if v})
    if not rows:
        _empty(ax, title)
        return
    labels = [names.get(code, code) for code, _ in rows][::-1]
    counts = [n for _, n in rows][::-1]
    bars = ax.barh(labels, counts, color=COLORS["contacts"])
    ax.bar_label(bars, padding=2)
    ax.set_title(title)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)


def _flagged(ax: Any, view: StatsView) -> None:
    title = "需关注（按员工）"
    totals = {
        code: view.flagged_by_staff.get(code, 0) + view.flagged_contacts_by_staff.get(code, 0)
        for code in set(view.flagged_by_staff) | set(view.flagged_contacts_by_staff)
    }
    rows = _top({k: v for k, v in totals.items() if v})
    if not rows:
        _empty(ax, title)
        return
    codes = [code for code, _ in rows][::-1]
    labels = [view.names.get(code, code) for code in codes]
    asked = [view.flagged_by_staff.get(code, 0) for code in codes]
    ax.barh(labels, asked, color=COLORS["unanswered"], label="问答")
    if view.with_contacts:
        contacts = [view.flagged_contacts_by_staff.get(code, 0) for code in codes]
        ax.barh(labels, contacts, left=asked, color=COLORS["weak"], label="联系记录合规提示")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncols=2, frameon=False)
    ax.set_title(title)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)


def save_png(png: bytes, directory: Path, *, now: datetime, prefix: str = "stats") -> Path:
    """Write a chart under `directory` (created), named after `now` (the bank's local time)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{prefix}-{now:%Y%m%d-%H%M%S-%f}.png"
    path.write_bytes(png)
    return path
