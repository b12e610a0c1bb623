"""`rm-assistant kb submit|ingest --pending|changes|approve|reject`: four-eyes from the command line, and the
operator's immediate `kb ingest` / `kb remove` recorded in the audit trail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import knowledge.e5
from bot.cli import cli
from tests.knowledge.conftest import FakeEmbeddings


@pytest.fixture(autouse=True)
def _world(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeEmbeddings()
    monkeypatch.setattr(knowledge.e5, "query", lambda text, **_: fake.embed_query(text))
    monkeypatch.setattr(knowledge.e5, "passages", lambda texts, **_: fake.embed_documents(texts))
    monkeypatch.setenv("RM_BUNDLED_KNOWLEDGE", "false")
    assert run("crm", "seed-demo", "--clients", "5").exit_code == 0


def run(*args: str, input: str | None = None) -> Result:
    if args[:2] == ("kb", "approve") and input is None:
        input = "y\n"  # the approver confirms after the whole text was printed
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, input=input)


def _doc(tmp_path: Path, name: str = "星辰理财.md") -> Path:
    path = tmp_path / name
    path.write_text("# 星辰理财\n\n星辰稳健理财面向白金客户，起购金额100万元。\n", encoding="utf-8")
    return path


def _searchable(text: str) -> bool:
    return any("星辰" in h["text"] for h in json.loads(run("kb", "search", text, "--json").stdout))


def test_submit_then_approve_by_someone_else(tmp_path: Path) -> None:
    submitted = run("kb", "ingest", "--pending", str(_doc(tmp_path)))
    assert submitted.exit_code == 0 and "已提交知识库变更 K1" in submitted.stdout
    assert not _searchable("星辰稳健理财 起购金额")
    listed = json.loads(run("kb", "changes", "--json").stdout)
    assert [(c["ref"], c["status"], c["submitted_by"]) for c in listed] == [("K1", "pending", "CLI")]
    refused = run("kb", "approve", "K1", "--as", "RM001")
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    shown = run("kb", "show", "K1")
    assert shown.exit_code == 0 and "星辰稳健理财面向白金客户，起购金额100万元。" in shown.stdout
    declined = run("kb", "approve", "K1", "--as", "TRN01", input="n\n")
    assert (
        declined.exit_code == 1 and "星辰稳健理财面向白金客户" in declined.stdout
    )  # shown, then not confirmed
    assert not _searchable("星辰稳健理财 起购金额")
    approved = run("kb", "approve", "K1", "--as", "TRN01")
    assert approved.exit_code == 0 and "已批准并发布" in approved.stdout
    assert approved.stdout.index("起购金额100万元") < approved.stdout.index("已批准并发布")
    assert _searchable("星辰稳健理财 起购金额")
    again = run("kb", "approve", "K1", "--as", "CMP01")
    assert again.exit_code == 1 and "不能再审批" in again.stderr


def test_own_change_cannot_be_approved_but_can_be_withdrawn(tmp_path: Path) -> None:
    assert run("kb", "submit", str(_doc(tmp_path)), "--as", "TRN01").exit_code == 0
    own = run("kb", "approve", "K1", "--as", "TRN01")
    assert own.exit_code == 1 and "四眼原则" in own.stderr
    withdrawn = run("kb", "reject", "K1", "--as", "TRN01")
    assert withdrawn.exit_code == 0 and "撤回" in withdrawn.stdout
    assert json.loads(run("kb", "changes", "--json").stdout)[0]["status"] == "rejected"


def test_operator_ingest_and_remove_are_audited(tmp_path: Path) -> None:
    from bot.composition import open_audit
    from bot.settings import get_settings

    doc = _doc(tmp_path)
    assert run("kb", "ingest", str(doc)).exit_code == 0  # the operator publishes at once
    assert _searchable("星辰稳健理财 起购金额")
    assert run("kb", "remove", doc.name).exit_code == 0
    trail = open_audit(get_settings())
    try:
        events = [e for e in trail.find(kind="knowledge_change", ref=str(doc.resolve()))]
        assert [e.payload["action"] for e in events] == ["publish", "remove"]
        assert {e.actor for e in events} == {"CLI"} and trail.verify().ok
    finally:
        trail.close()


def test_kb_list_shows_status_and_dates(tmp_path: Path) -> None:
    doc = tmp_path / "新规.md"
    doc.write_text("---\neffective_date: 2099-01-01\n---\n# 新规\n\n新规内容。\n", encoding="utf-8")
    assert run("kb", "submit", str(doc)).exit_code == 0
    assert "（未生效）\t新规.md\tK1 待审批\t2099-01-01 ~ —" in run("kb", "list").stdout
    assert run("kb", "approve", "K1", "--as", "CMP01").exit_code == 0
    [row] = json.loads(run("kb", "list", "--json").stdout)
    assert (row["status"], row["change"], row["effective_date"]) == ("approved", "K1", "2099-01-01")
    plain = _doc(tmp_path)
    assert run("kb", "submit", str(plain)).exit_code == 0
    assert run("kb", "approve", "K2", "--as", "TRN02").exit_code == 0
    listed = run("kb", "list").stdout
    assert "\t已生效\tK2 — ~ —" in listed and "K1 已批准，待生效\t2099-01-01 ~ —" in listed


def test_a_person_registered_again_under_a_new_code_cannot_approve_their_own_change(tmp_path: Path) -> None:
    """The CLI's `--as` has no Telegram user: the ids registered for the codes are compared instead."""
    trainer = ("--name", "孙悦", "--role", "trainer", "--telegram-id", "777001")
    assert run("staff", "add", "--code", "TRN02", *trainer).exit_code == 0
    assert run("kb", "submit", str(_doc(tmp_path)), "--as", "TRN02").exit_code == 0
    assert run("staff", "remove", "TRN02").exit_code == 0
    assert run("staff", "add", "--code", "TRN09", *trainer).exit_code == 0  # the same person, a new code
    own = run("kb", "approve", "K1", "--as", "TRN09")
    assert own.exit_code == 1 and "四眼原则" in own.stderr and not _searchable("星辰稳健理财 起购金额")
    assert run("kb", "approve", "K1", "--as", "CMP01").exit_code == 0 and _searchable("星辰稳健理财 起购金额")


def test_lists_have_headers_and_the_banks_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #19: `kb list` and `kb changes` printed rows without a header, with times in UTC."""
    import datetime as dt

    from bot.settings import get_settings

    monkeypatch.setenv("RM_TIMEZONE", "Asia/Shanghai")
    get_settings.cache_clear()
    assert run("kb", "submit", str(_doc(tmp_path))).exit_code == 0
    assert run("kb", "approve", "K1", "--as", "TRN01").exit_code == 0
    listed = run("kb", "list").stdout.splitlines()
    assert listed[0].startswith("来源\t标题") and "Asia/Shanghai" in listed[0]
    shanghai = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert any(f"{shanghai:%Y-%m-%d} " in line for line in listed[1:])
    changes = run("kb", "changes").stdout.splitlines()
    assert changes[0].startswith("编号\t状态") and changes[1].startswith("K1\t")
    assert f"{shanghai:%Y-%m-%d} " in changes[1]
