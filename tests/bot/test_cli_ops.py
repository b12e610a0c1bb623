"""`rm-assistant ask` and `rm-assistant review export` through the real CLI entry point."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.convlog import ConversationLog
from bot.settings import get_settings


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
