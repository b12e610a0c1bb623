"""`rm-assistant staff ...` / `rm-assistant crm ...` through click's CliRunner (SQLite under RM_DATA_DIR)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli import cli
from bot.settings import get_settings


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def demo() -> None:
    result = run("crm", "seed-demo", "--clients", "20")
    assert result.exit_code == 0, result.output
    assert "演示数据已就绪" in result.output


def test_staff_add_list_remove() -> None:
    result = run(
        "staff",
        "add",
        "--code",
        "RM100",
        "--name",
        "王敏",
        "--role",
        "rm",
        "--team",
        "A",
        "--telegram-id",
        "7",
    )
    assert result.exit_code == 0 and "RM100" in result.output
    listed = run("staff", "list", "--json")
    assert json.loads(listed.stdout) == [
        {"code": "RM100", "name": "王敏", "role": "rm", "team": "A", "telegram_id": 7}
    ]
    table = run("staff", "list")
    assert "RM100" in table.output and "王敏" in table.output
    assert run("staff", "remove", "RM100").exit_code == 0
    assert json.loads(run("staff", "list", "--json").stdout) == []


def test_staff_errors_are_one_line() -> None:
    result = run("staff", "add", "--code", "SUP9", "--name", "陈静", "--role", "supervisor")
    assert result.exit_code == 1 and "主管必须指定团队" in result.output and "Traceback" not in result.output
    assert run("staff", "remove", "NOPE").exit_code == 1
    assert run("staff", "add", "--code", "X", "--name", "a", "--role", "boss").exit_code == 2


def test_search_json_and_table(demo: None) -> None:
    result = run("crm", "search", "zhangwei", "--as", "RM001", "--json")
    assert result.exit_code == 0
    clients = json.loads(result.stdout)
    assert {c["name"] for c in clients} == {"张伟", "章伟"}
    assert all("phone" not in c and "****" in c["phone_masked"] for c in clients)
    table = run("crm", "search", "zw", "--as", "RM001")
    assert "张伟" in table.output and "****" in table.output
    assert json.loads(run("crm", "search", "zhangwei", "--as", "TRN01", "--json").stdout) == []


def test_denied_and_unknown_requests_exit_non_zero(demo: None) -> None:
    denied = run("crm", "contacts", "C0001", "--as", "RM002", "--json")
    assert denied.exit_code == 1
    assert denied.stdout == "" and "无权查看该客户" in denied.output and "Traceback" not in denied.output
    assert len(denied.output.strip().splitlines()) == 1
    unknown = run("crm", "search", "张伟", "--as", "NOPE")
    assert unknown.exit_code == 1 and "未知员工" in unknown.output
    missing = run("crm", "contacts", "C9999", "--as", "ADM01")
    assert missing.exit_code == 1 and "未找到客户" in missing.output
    empty = run("crm", "search", "  ", "--as", "RM001")
    assert empty.exit_code == 1 and "搜索关键词" in empty.output


def test_contacts_and_card(demo: None) -> None:
    result = run("crm", "contacts", "C0001", "--as", "SUP01", "--json")
    assert result.exit_code == 0
    contacts = json.loads(result.stdout)
    assert contacts and all(c["client_id"] == "C0001" for c in contacts)
    assert run("crm", "contacts", "C0001", "--as", "RM001").exit_code == 0
    card = run("crm", "card", "C0001", "--as", "RM001")
    assert card.exit_code == 0 and "张伟" in card.output and "下次回访" in card.output


def test_import_clients_csv(tmp_path: Path) -> None:
    run("staff", "add", "--code", "RM001", "--name", "王敏", "--role", "rm", "--team", "A")
    csv_path = tmp_path / "clients.csv"
    csv_path.write_text(
        "\ufeffname,birthday,phone,aum,risk_level,rm_code,client_id\n"
        "赵敏,1985-03-12,13800001234,12000000,C3,RM001,K001\n"
        "钱多多,1985-13-40,13800001235,5000000,C2,RM001,K002\n",
        encoding="utf-8",
    )
    result = run("crm", "import-clients", str(csv_path))
    assert result.exit_code == 0
    assert "新增 1" in result.output and "第 3 行" in result.output
    again = run("crm", "import-clients", str(csv_path), "--json")
    report = json.loads(again.stdout)
    assert (report["created"], report["updated"], [e["line"] for e in report["errors"]]) == (0, 1, [3])
    # The operator identity is an admin without Telegram id.
    operator = [s for s in json.loads(run("staff", "list", "--json").stdout) if s["code"] == "CLI"]
    assert operator == [
        {"code": "CLI", "name": "命令行操作员", "role": "admin", "team": None, "telegram_id": None}
    ]
    denied = run("crm", "import-clients", str(csv_path), "--as", "RM001")
    assert denied.exit_code == 1 and "管理员" in denied.output


def test_database_url_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    get_settings.cache_clear()
    assert run("staff", "add", "--code", "ADM01", "--name", "管理员", "--role", "admin").exit_code == 0
    assert (tmp_path / "other.db").exists()


def test_postgres_from_environment(monkeypatch: pytest.MonkeyPatch, postgres_url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    assert run("crm", "seed-demo", "--clients", "10").exit_code == 0
    result = run("crm", "search", "zw", "--as", "SUP01", "--json")
    assert {c["name"] for c in json.loads(result.stdout)} == {"张伟", "章伟"}


def test_cli_client_reads_are_audited_and_fail_closed(demo: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.audit import AuditTrail
    from bot.composition import open_audit

    assert run("crm", "card", "C0001", "--as", "RM001").exit_code == 0
    assert run("crm", "search", "zhangwei", "--as", "RM001").exit_code == 0
    trail = open_audit(get_settings())
    try:
        assert trail.find(kind="client_read", ref="C0001")[0].payload == {"via": "cli", "what": "card"}
        [search] = trail.find(kind="client_search", ref="C0001")
        assert search.payload["query"] == "zhangwei" and "C0001" in search.payload["results"]
        assert trail.verify().ok
    finally:
        trail.close()

    def refuse(*_a: object, **_kw: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(AuditTrail, "append", refuse)
    result = CliRunner().invoke(cli, ["crm", "card", "C0001", "--as", "RM001"])
    assert result.exit_code == 1 and "无法写入审计记录" in result.output and "C0001" not in result.stdout
