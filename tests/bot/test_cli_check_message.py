"""`rm-assistant check-message` through the real CLI entry point: text and JSON output, a file of
messages, a named client (suitability), and bad input as one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.composition import open_crm
from bot.settings import get_settings
from crm_adapter.demo import seed_demo


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[CliRunner]:
    monkeypatch.setenv("RM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RM_BUNDLED_KNOWLEDGE", "false")
    get_settings.cache_clear()
    crm = open_crm(get_settings())
    seed_demo(crm, clients=20)
    crm.close()
    yield CliRunner()
    get_settings.cache_clear()


def test_json_verdict_findings_with_sources_and_a_passing_rewrite(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["check-message", "--json", "这款理财保本保收益，年化6%稳稳的"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["verdict"] == "revise"
    rules = {f["rule"] for f in payload["findings"]}
    assert {"guarantee", "expected_return"} <= rules
    for f in payload["findings"]:
        assert {"rule", "text", "source", "suggestion"} <= set(f)
        assert f["source"].startswith("《") and "第" in f["source"]
    assert "保本保收益" in [f["text"] for f in payload["findings"]]
    assert payload["rewrite_verdict"] == "ok"
    assert "理财非存款，产品有风险，投资须谨慎" in payload["rewrite"]
    again = runner.invoke(cli, ["check-message", "--json", payload["rewrite"]])
    assert json.loads(again.stdout.strip().splitlines()[-1])["verdict"] == "ok"


def test_messages_file_gives_one_json_object_per_message(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "drafts.txt"
    path.write_text(
        "这款产品不保本，过往业绩不代表未来表现\n\n名额有限，今天不买就没了\n张伟 推荐这款R4产品\n",
        encoding="utf-8",
    )
    result = runner.invoke(cli, ["check-message", "--messages", str(path), "--json", "--as", "RM001"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r["verdict"] for r in rows] == ["ok", "revise", "revise"]
    assert rows[0]["findings"] == [] and rows[0]["rewrite"] is None
    assert {f["rule"] for f in rows[1]["findings"]} == {"pressure"}
    assert rows[2]["client"] == "张伟"
    assert any("超出客户C1承受能力" in f["label"] for f in rows[2]["findings"])


def test_plain_output_names_the_article(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["check-message", "这款保险跟存款一样，受存款保险保障"])
    assert result.exit_code == 0, result.output
    assert "建议修改后再发送" in result.stdout and "第十三条" in result.stdout
    assert "<b>" not in result.stdout  # plain text, not Telegram HTML


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["check-message"], "give a message"),
        (["check-message", "   "], "give a message"),
        (["check-message", "--messages", "/nonexistent/drafts.txt"], "cannot read /nonexistent/drafts.txt"),
        (["check-message", "--as", "NOBODY", "你好"], "unknown staff code NOBODY"),
        (["check-message", "--as", "TRN01", "你好"], "may not check client messages"),
    ],
)
def test_bad_input_is_one_line(runner: CliRunner, args: list[str], expected: str) -> None:
    result = runner.invoke(cli, args)
    assert result.exit_code != 0
    assert expected in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1


def test_an_undecodable_file_is_one_line(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"\xff\xfe\xfa not utf-8 \x80")
    result = runner.invoke(cli, ["check-message", "--messages", str(path)])
    assert result.exit_code == 1 and "cannot read" in result.output
    assert len(result.output.strip().splitlines()) == 1
