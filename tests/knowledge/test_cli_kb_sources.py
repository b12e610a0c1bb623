"""`rm-assistant kb`: sources by file name, bundled removals that persist, the upload size limit."""

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
    fake = FakeEmbeddings()
    monkeypatch.setattr(knowledge.e5, "query", lambda text, **_: fake.embed_query(text))
    monkeypatch.setattr(knowledge.e5, "passages", lambda texts, **_: fake.embed_documents(texts))
    monkeypatch.setenv("RM_BUNDLED_KNOWLEDGE", "false")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _listed() -> set[str]:
    return {s["source"] for s in json.loads(run("kb", "list", "--json").stdout)}


def test_remove_by_file_name(tmp_path: Path) -> None:
    doc = tmp_path / "uploads" / "高尔夫权益.md"
    doc.parent.mkdir()
    doc.write_text("# 高尔夫权益\n钻石客户每年可预约高尔夫4次。", encoding="utf-8")
    assert run("kb", "ingest", str(doc)).exit_code == 0
    result = run("kb", "remove", "高尔夫权益.md")
    assert result.exit_code == 0, result.output
    assert f"已删除 {doc.resolve()}" in result.stdout
    assert _listed() == set()


def test_ambiguous_name_is_refused_with_the_candidates(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "权益.md").write_text(f"# 权益{folder}\n内容{folder}", encoding="utf-8")
        assert run("kb", "ingest", str(tmp_path / folder)).exit_code == 0
    result = run("kb", "remove", "权益.md")
    assert result.exit_code == 1
    assert "对应多个来源" in result.stderr and "Traceback" not in result.output
    assert len(_listed()) == 2


def test_bundled_removal_persists_and_restore_undoes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RM_BUNDLED_KNOWLEDGE", "true")
    get_settings.cache_clear()
    name = sorted(s.removeprefix("bundled:") for s in _listed())[0]
    result = run("kb", "remove", name)
    assert result.exit_code == 0 and "重启后也不会恢复" in result.stdout
    assert "bundled:" + name not in _listed()  # every command syncs the corpus: it stays removed
    assert run("kb", "restore", name).exit_code == 0
    assert "bundled:" + name in _listed()
    assert run("kb", "restore", name).exit_code == 1


def test_ingest_refuses_files_over_the_upload_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RM_MAX_UPLOAD_MB", "1")
    get_settings.cache_clear()
    big = tmp_path / "big.md"
    big.write_text("# 大\n" + "内容" * 400_000, encoding="utf-8")
    result = run("kb", "ingest", str(big))
    assert result.exit_code == 1
    assert "文件过大（2.3 MB），上限为 1 MB，请拆分后再上传" in result.stderr
    assert "Traceback" not in result.output
    assert _listed() == set()
