"""`rm-assistant crm use-benefit | benefits | brief | import-benefit-uses` through the real CLI entry
point (demo data, the bundled entitlement table)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.composition import open_crm
from bot.settings import get_settings
from crm_adapter import Client


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("RM_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    cli_runner = CliRunner()
    assert cli_runner.invoke(cli, ["crm", "seed-demo", "--clients", "30"]).exit_code == 0
    return cli_runner


def _diamond() -> Client:
    crm = open_crm(get_settings())
    try:
        return next(
            f.client for f in crm.follow_ups(actor="RM001", horizon_days=366) if f.client.tier == "钻石"
        )
    finally:
        crm.close()


def test_uses_balances_brief_and_the_sixth_use(runner: CliRunner) -> None:
    cid = _diamond().client_id
    for note in ("心内科", "骨科", "骨科"):  # the third is the second again: counted once
        ok = runner.invoke(cli, ["crm", "use-benefit", cid, "专家号", "--note", note, "--as", "RM001"])
        assert ok.exit_code == 0, ok.output
    assert "未重复计数" in ok.output
    shown = runner.invoke(cli, ["crm", "benefits", cid, "--as", "RM001", "--json"])
    assert shown.exit_code == 0, shown.output
    [expert] = [b for b in json.loads(shown.stdout)["benefits"] if b["benefit"] == "专家挂号预约"]
    assert (expert["allowance"], expert["used"], expert["left"]) == (5, 2, 3)
    assert expert["rule"]["title"] == "增值服务权益"
    brief = runner.invoke(cli, ["crm", "brief", cid, "--as", "RM001"])
    assert (
        brief.exit_code == 0
        and "专家挂号预约：每年5次，已用 2 次" in brief.stdout
        and "话题建议" in brief.stdout
    )
    data = json.loads(runner.invoke(cli, ["crm", "brief", cid, "--as", "RM001", "--json"]).stdout)
    assert data["talking_points"] and all(p["reason"] for p in data["talking_points"])
    for note in ("a", "b", "c"):
        runner.invoke(cli, ["crm", "use-benefit", cid, "专家挂号", "--note", note, "--as", "RM001"])
    sixth = runner.invoke(cli, ["crm", "use-benefit", cid, "专家挂号", "--note", "d", "--as", "RM001"])
    assert sixth.exit_code == 1 and "超出权益次数" in sixth.output and "--confirm" in sixth.output
    confirmed = runner.invoke(
        cli, ["crm", "use-benefit", cid, "专家挂号", "--note", "d", "--confirm", "--as", "RM001", "--json"]
    )
    assert confirmed.exit_code == 0 and json.loads(confirmed.stdout)["balance"]["used"] == 6
    denied = runner.invoke(cli, ["crm", "use-benefit", cid, "专家挂号", "--as", "SUP01"])
    assert (
        denied.exit_code == 1
        and "主管不能代客户经理登记" in denied.output
        and "Traceback" not in denied.output
    )
    assert runner.invoke(cli, ["crm", "benefits", cid, "--as", "TRN01"]).exit_code == 1


def test_import_of_past_uses_reports_bad_rows_by_line(runner: CliRunner, tmp_path: Path) -> None:
    cid = _diamond().client_id
    csv_file = tmp_path / "uses.csv"
    csv_file.write_text(
        "client_id,benefit,used_on,note\n"
        f"{cid},专家号,2026-01-05,\n"
        f"{cid},火星旅行,2026-01-05,\n"
        f"C9999,导医,2026-01-06,\n"
        f"{cid},导医,not-a-date,\n",
        encoding="utf-8",
    )
    result = runner.invoke(cli, ["crm", "import-benefit-uses", str(csv_file), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["created"] == 1 and [e["line"] for e in report["errors"]] == [3, 4, 5]
    again = json.loads(runner.invoke(cli, ["crm", "import-benefit-uses", str(csv_file), "--json"]).stdout)
    assert again["created"] == 0 and again["duplicates"] == 1
