"""Uploads are bounded: the size limit (RM_MAX_UPLOAD_MB) and the progress/final texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.composition import Services
from bot.core import ServiceError
from bot.features import approvals, knowledge_admin
from knowledge import IngestReport
from knowledge.vectors import VectorProgress
from tests.bot.app_fixtures import req
from tests.bot.fakes import FakeCRM, FakeKB

MB = 1024 * 1024


def test_size_limit_is_checked_before_download(services: Services) -> None:
    admin = services.knowledge
    assert admin.max_upload_mb == services.settings.rm_max_upload_mb == 20
    admin.check_size(None)  # Telegram may omit the size: the download limit of the Bot API applies
    admin.check_size(20 * MB)
    with pytest.raises(ServiceError) as caught:
        admin.check_size(50 * MB)
    assert str(caught.value) == "文件过大（50.0 MB），上限为 20 MB，请拆分后再上传"


def test_console_upload_refuses_a_large_file(
    services: Services, crm: FakeCRM, kb: FakeKB, tmp_path: Path
) -> None:
    services.knowledge.max_upload_mb = 1
    doc = tmp_path / "大.md"
    doc.write_bytes(b"# big\n" + b"x" * (2 * MB))
    with pytest.raises(ServiceError, match=r"文件过大（2\.0 MB），上限为 1 MB"):
        approvals.upload(services.approvals, req(crm, "TRN01", str(doc)))
    assert kb.ingested == []


def test_progress_and_final_texts() -> None:
    assert "已可检索" in knowledge_admin.render_progress("a.md", VectorProgress(0, 0))
    assert "语义向量 3/10" in knowledge_admin.render_progress("a.md", VectorProgress(3, 10))
    report = IngestReport(added=("a",), chunks_added=10)
    assert knowledge_admin.render_ingest("a.md", report, VectorProgress(10, 10)) == (
        "✅ 文档《a.md》已加入知识库（10 个段落）。"
    )
    pending = knowledge_admin.render_ingest("a.md", report, VectorProgress(4, 10, failed=True))
    assert "6 个段落暂只能按关键词检索" in pending
