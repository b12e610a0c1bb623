"""`rm-assistant review export --what actions`, `--redact` (an export for trainers) and `review chart`
through the real CLI entry point, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.cli.export import FORMULA_TRIGGERS
from bot.composition import open_crm
from bot.convlog import ConversationLog
from bot.features.supervision import ReviewLog
from bot.settings import get_settings
from crm_adapter.sql import SqlCRM
from knowledge import Answer
from tests.crm_adapter.factories import seed_org

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(params=["sqlite", "postgres"])
def crm(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqlCRM]:
    if request.param == "postgres":
        monkeypatch.setenv("DATABASE_URL", request.getfixturevalue("postgres_url"))
        get_settings.cache_clear()
    adapter = open_crm(get_settings())
    try:
        seed_org(adapter)  # clients 张伟, 章伟, 李娜, 王芳
        yield adapter
    finally:
        adapter.close()


@pytest.fixture
def log(crm: SqlCRM) -> Iterator[ConversationLog]:
    store = ConversationLog(get_settings().effective_database_url)
    yield store
    store.close()


def _exchange(log: ConversationLog, question: str) -> int:
    answer = Answer(question=question, lead=("没有找到。",), citations=(), grounded=False)
    return log.record(staff_code="RM001", channel="cli", question=question, answer=answer).id


def test_export_review_actions_csv_safe_and_redacted(log: ConversationLog, tmp_path: Path) -> None:
    q = _exchange(log, "张伟的太太想开户怎么办")
    at = datetime(2026, 11, 30, 2, tzinfo=UTC)
    reviews = ReviewLog(log)
    reviews.add(kind="exchange", item_id=q, action="escalate", actor="SUP01", staff_code="RM001", at=at,
                comment="=HYPERLINK(\"x\") 张伟 13812345678")  # fmt: skip
    reviews.add(kind="exchange", item_id=q, action="reviewed", actor="SUP01", staff_code="RM001", at=at)
    out = tmp_path / "actions.csv"
    result = CliRunner().invoke(cli, ["review", "export", "--what", "actions", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "exported 2 review action(s) of all dates (dates and timestamps in Asia/Shanghai)" in result.stderr
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["action"] for r in rows] == ["escalate", "reviewed"] and rows[0]["ref"] == f"Q{q}"
    assert rows[0]["comment"] == '\'=HYPERLINK("x") 张伟 138****5678'  # neutralised, number masked
    assert rows[0]["created_at"] == "2026-11-30T10:00:00+08:00"
    assert not any(cell.startswith(FORMULA_TRIGGERS) for r in rows for cell in r.values())
    one_day = ["--since", "2026-11-30", "--until", "2026-11-30"]
    result = CliRunner().invoke(cli, ["review", "export", "--what", "actions", "--redact", *one_day])
    redacted = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(redacted) == 2 and redacted[0]["comment"] == '=HYPERLINK("x") 某客户 138****5678'
    result = CliRunner().invoke(cli, ["review", "export", "--redact", "--format", "csv"])
    [row] = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    assert row["question"] == "某客户的太太想开户怎么办" and "client names redacted" in result.stderr
    result = CliRunner().invoke(cli, ["review", "export", "--what", "contacts", "--redact"])
    assert result.exit_code == 2 and "--redact" in result.stderr


def test_review_chart_writes_the_stats_png(log: ConversationLog, tmp_path: Path) -> None:
    _exchange(log, "火星上的理财产品？")
    out = tmp_path / "stats.png"
    result = CliRunner().invoke(cli, ["review", "chart", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(PNG_MAGIC) and "wrote" in result.stderr
    result = CliRunner().invoke(cli, ["review", "chart", "上月", "--as", "SUP01", "-o", str(out)])
    assert result.exit_code == 0, result.output
    for args, message in [(["--as", "RM001"], "不是主管"), (["--as", "NOPE"], "NOPE"), (["明年"], "")]:
        result = CliRunner().invoke(cli, ["review", "chart", *args, "-o", str(out)])
        assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["review", "chart", "-o", str(tmp_path / "no" / "dir" / "x.png")])
    assert result.exit_code == 1 and "cannot write" in result.stderr
