"""bot.features.knowledge_admin: raw hits for trainers and document ingestion."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.composition import Services
from bot.core import ServiceError
from bot.features import approvals, knowledge_admin
from tests.bot.app_fixtures import req
from tests.bot.fakes import FakeCRM, FakeKB


def test_search_and_ingest(services: Services, kb: FakeKB, crm: FakeCRM, tmp_path: Path) -> None:
    assert services.knowledge.search("钻石 权益")[0].score == 2.0
    with pytest.raises(ServiceError, match="用法"):
        services.knowledge.search("  ")
    doc = tmp_path / "新产品.md"
    doc.write_text("# 新产品\n内容", encoding="utf-8")
    assert services.knowledge.ingest(doc).chunks_added == 3
    with pytest.raises(ServiceError, match="格式"):
        services.knowledge.check_file("virus.exe")
    assert kb.ingested == [doc]


def test_every_loader_format_is_accepted(services: Services) -> None:
    """README promises .xlsx FAQ sheets: the upload check must not refuse them (a fixed drift)."""
    from knowledge import loaders

    for suffix in (".md", ".markdown", ".txt", ".docx", ".pdf", ".csv", ".xlsx"):
        services.knowledge.check_file(f"doc{suffix}")
    # Issue #19: one list of types and one size rule for chat uploads, /upload and kb ingest.
    assert set(knowledge_admin.INGESTIBLE_SUFFIXES) == set(loaders.SUPPORTED_SUFFIXES)
    from knowledge.ingest import size_refusal

    services.knowledge.check_size(20 * 1024 * 1024)
    with pytest.raises(ServiceError) as caught:
        services.knowledge.check_size(20 * 1024 * 1024 + 1)
    assert caught.value.message == size_refusal(20 * 1024 * 1024 + 1, 20)


def test_console_upload_command_submits_for_approval(
    services: Services, crm: FakeCRM, kb: FakeKB, tmp_path: Path
) -> None:
    doc = tmp_path / "高尔夫权益.md"
    doc.write_text("# 高尔夫\n钻石客户每年可预约高尔夫4次。", encoding="utf-8")
    reply = approvals.upload(services.approvals, req(crm, "TRN01", str(doc)))
    assert "已提交知识库变更 <b>K1</b>" in reply.text and kb.ingested == []  # nothing served yet
    with pytest.raises(ServiceError, match="找不到文件"):
        approvals.upload(services.approvals, req(crm, "TRN01", str(tmp_path / "nope.md")))
    approvals.changes(services.approvals, req(crm, "ADM01", "K1"))  # the approver reads it first
    approved = approvals.approve(services.approvals, req(crm, "ADM01", "K1"))
    assert "已批准并发布" in approved.text and len(kb.ingested) == 1


def test_an_immediate_publication_is_audited_by_the_upkeep_service(services: Services) -> None:
    """`kb ingest` / `kb remove` append through the service the composition root opened (issue #19: the
    command line no longer opens the trail itself); without a trail an immediate publication fails."""
    from knowledge import IngestReport

    report = IngestReport(added=("a.md",), updated=("b.md",), unchanged=("c.md",), removed=("d.md",))
    services.knowledge.record_published(report, actor="CLI", by="kb ingest")
    trail = services.audit
    assert trail is not None
    events = {ref: trail.find(kind="knowledge_change", ref=ref) for ref in ("a.md", "b.md", "c.md", "d.md")}
    actions = {r: [(e.actor, e.payload["action"], e.payload["by"]) for e in es] for r, es in events.items()}
    assert actions == {
        "a.md": [("CLI", "publish", "kb ingest")],
        "b.md": [("CLI", "publish", "kb ingest")],
        "c.md": [],  # unchanged: nothing was published
        "d.md": [("CLI", "remove", "kb ingest")],
    }
    assert trail.verify().ok
    no_trail = knowledge_admin.KnowledgeAdminService(kb=FakeKB())
    nothing = IngestReport(unchanged=("c.md",))
    no_trail.record_published(nothing, actor="CLI", by="kb ingest")  # nothing published: nothing to record
    with pytest.raises(RuntimeError, match="audit trail"):
        no_trail.record_published(report, actor="CLI", by="kb ingest")
