"""Four-eyes knowledge changes: an upload is served only after a second person approves it; effective and
expiry dates decide when; every step is in the audit trail; faults fail closed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import commands
from bot.audit import AuditTrail
from bot.composition import Services, open_services
from bot.convlog import ConversationLog, create_store_engine
from bot.core import Clock, Request, ServiceError
from bot.features.approvals import document_dates
from bot.settings import Settings
from crm_adapter import Role, Staff
from knowledge import IngestReport
from tests.bot.app_fixtures import NOW
from tests.bot.fakes import FakeCRM, FakeKB


class RemovableKB(FakeKB):
    """The fake knowledge base, able to remove a source (as `KnowledgeBase.remove` does)."""

    def __init__(self) -> None:
        super().__init__()
        self.removed: list[str] = []
        self.fail_next = False

    def ingest(self, paths: Sequence[Path], **kwargs: Any) -> IngestReport:
        if self.fail_next:
            self.fail_next = False
            return IngestReport(failed=(("x", "文档无法解析"),))
        return super().ingest(paths, **kwargs)

    def remove(self, source: str) -> int:
        self.removed.append(source)
        return 3


class MovableClock(Clock):
    def __init__(self) -> None:
        self.at = NOW
        super().__init__("Asia/Shanghai", now=lambda: self.at)


World = tuple[Services, RemovableKB, MovableClock]


@pytest.fixture(params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> Iterator[tuple[Services, RemovableKB, MovableClock]]:
    crm = FakeCRM()
    crm.add_staff(staff=Staff(code="TRN02", name="孙悦", role=Role.TRAINER, telegram_id=3002))
    kb, clock = RemovableKB(), MovableClock()
    url = (
        f"sqlite:///{tmp_path / 'app.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    log = ConversationLog(url)
    audit = AuditTrail(create_store_engine(url))
    with open_services(settings, kb=kb, crm=crm, log=log, audit=audit, clock=clock) as s:
        yield s, kb, clock
    audit.close()
    log.close()


def run(s: Services, code: str, line: str) -> str:
    name, _, args = line.lstrip("/").partition(" ")
    req = Request(staff=s.crm.get_staff(code=code), args=args, frontend="console")
    return commands.run_command(s, name, req).text


def approve(s: Services, code: str, ref: str) -> str:
    """An approver reads the whole change (`/changes K1`), then approves it."""
    run(s, code, f"/changes {ref}")
    return run(s, code, f"/approve {ref}")


def doc(tmp_path: Path, name: str = "高尔夫权益.md", front: str = "") -> Path:
    path = tmp_path / name
    head = f"---\n{front}\n---\n" if front else ""
    path.write_text(head + "# 高尔夫权益\n\n钻石客户每年可预约高尔夫练习场 4 次。\n", encoding="utf-8")
    return path


def test_an_upload_is_not_served_until_another_person_approves_it(world: World, tmp_path: Path) -> None:
    s, kb, _ = world
    change = s.approvals.submit(s.crm.get_staff(code="TRN01"), doc(tmp_path))
    assert change.status == "pending" and kb.ingested == []
    with pytest.raises(ServiceError, match="四眼原则"):
        s.approvals.approve(s.crm.get_staff(code="TRN01"), change.id)  # not one's own
    with pytest.raises(ServiceError, match="培训师、合规人员或管理员"):
        s.approvals.approve(s.crm.get_staff(code="RM001"), change.id)
    assert kb.ingested == []
    text = approve(s, "CMP01", change.ref)
    assert "已批准并发布" in text and len(kb.ingested) == 1
    assert Path(kb.ingested[0]).read_bytes() == doc(tmp_path).read_bytes()  # the approved bytes
    with pytest.raises(ServiceError, match="不能再审批"):
        s.approvals.approve(s.crm.get_staff(code="TRN02"), change.id)  # decided once
    assert len(kb.ingested) == 1


def test_rm_cannot_use_the_approval_commands(world: World) -> None:
    s, _, _ = world
    with pytest.raises(ServiceError):
        run(s, "RM001", "/changes")


def test_reject_and_withdraw_are_recorded_and_never_served(world: World, tmp_path: Path) -> None:
    s, kb, _ = world
    a = s.approvals.submit(s.crm.get_staff(code="TRN01"), doc(tmp_path, "a.md"))
    b = s.approvals.submit(s.crm.get_staff(code="TRN01"), doc(tmp_path, "b.md", "title: b"))
    assert "驳回" in run(s, "TRN02", f"/reject {a.ref} 与现行制度冲突")
    assert "撤回" in run(s, "TRN01", f"/reject {b.ref}")
    listing = run(s, "CMP01", "/changes")
    assert "没有待审批的变更" in listing and "与现行制度冲突" in listing and "提交人撤回" in listing
    assert kb.ingested == []


def test_duplicate_submission_and_bad_dates_get_one_line(world: World, tmp_path: Path) -> None:
    s, _, _ = world
    trainer = s.crm.get_staff(code="TRN01")
    first = s.approvals.submit(trainer, doc(tmp_path))
    with pytest.raises(ServiceError, match=f"已提交审批（{first.ref}）"):
        s.approvals.submit(trainer, doc(tmp_path))
    with pytest.raises(ServiceError, match="YYYY-MM-DD"):
        s.approvals.submit(trainer, doc(tmp_path, "c.md", "effective_date: 明天"))
    with pytest.raises(ServiceError, match="已到"):
        s.approvals.submit(trainer, doc(tmp_path, "d.md", "expiry_date: 2026-11-01"))
    with pytest.raises(ServiceError, match="不晚于"):
        document_dates(doc(tmp_path, "e.md", "effective_date: 2027-01-02\nexpiry_date: 2027-01-01"))


def test_effective_date_waits_for_midnight_in_the_bank_time_zone(world: World, tmp_path: Path) -> None:
    s, kb, clock = world
    change = s.approvals.submit(
        s.crm.get_staff(code="TRN01"), doc(tmp_path, front="effective_date: 2026-11-29")
    )
    assert "2026-11-29 零时" in approve(s, "TRN02", change.ref)
    assert kb.ingested == []
    clock.at = datetime(2026, 11, 28, 15, 59, tzinfo=UTC)  # 23:59 in Shanghai: not yet
    assert s.approvals.refresh() == [] and kb.ingested == []
    clock.at = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)  # 00:00 on the 29th in Shanghai
    [live] = s.approvals.refresh()
    assert live.status == "live" and len(kb.ingested) == 1
    assert s.approvals.refresh() == []  # published once


def test_expired_document_stops_being_served(world: World, tmp_path: Path) -> None:
    s, kb, clock = world
    change = s.approvals.submit(s.crm.get_staff(code="TRN01"), doc(tmp_path, front="expiry_date: 2026-12-01"))
    approve(s, "CMP01", change.ref)
    assert s.approvals.refresh() == [] and kb.removed == []
    clock.at = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 2026-12-01 00:00 in Shanghai
    [expired] = s.approvals.refresh()
    assert expired.status == "expired" and kb.removed == [expired.source]


def test_a_file_changed_after_approval_is_never_published(world: World, tmp_path: Path) -> None:
    s, kb, clock = world
    change = s.approvals.submit(
        s.crm.get_staff(code="TRN01"), doc(tmp_path, front="effective_date: 2026-11-30")
    )
    approve(s, "TRN02", change.ref)
    Path(change.stored_path).write_text("# 本行所有理财产品均保本保收益\n", encoding="utf-8")  # tampering
    clock.at = NOW + timedelta(days=3)
    [failed] = s.approvals.refresh()
    assert failed.status == "failed" and "改动" in (failed.note or "") and kb.ingested == []


def test_a_failed_ingest_is_reported_and_not_live(world: World, tmp_path: Path) -> None:
    s, kb, _ = world
    change = s.approvals.submit(s.crm.get_staff(code="TRN01"), doc(tmp_path))
    kb.fail_next = True
    text = approve(s, "TRN02", change.ref)
    assert "未能加入知识库" in text and "文档无法解析" in text
    assert s.approvals.get(change.id).status == "failed"


def test_every_step_is_in_the_audit_trail(world: World, tmp_path: Path) -> None:
    s, _, _ = world
    change = s.approvals.submit(s.crm.get_staff(code="TRN01"), doc(tmp_path))
    approve(s, "CMP01", change.ref)
    assert s.audit is not None
    actions = [e.payload["action"] for e in s.audit.find(kind="knowledge_change", ref=change.ref)]
    assert actions == ["submit", "approve", "publish"]
    assert s.audit.verify().ok


def test_concurrent_approvals_decide_once(world: World, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    s, kb, _ = world
    change = s.approvals.submit(s.crm.get_staff(code="TRN01"), doc(tmp_path))

    def approve(code: str) -> str:
        try:
            return s.approvals.approve(s.crm.get_staff(code=code), change.id).change.status
        except ServiceError as exc:
            return str(exc)

    with ThreadPoolExecutor(3) as pool:
        outcomes = list(pool.map(approve, ["TRN02", "CMP01", "ADM01"]))
    assert outcomes.count("live") == 1 and len(kb.ingested) == 1


def test_dates_only_from_markdown_front_matter(tmp_path: Path) -> None:
    assert document_dates(doc(tmp_path, front="effective_date: 2027-01-01\n失效日期: 2027-06-30")) == (
        date(2027, 1, 1),
        date(2027, 6, 30),
    )
    pdf = tmp_path / "x.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    assert document_dates(pdf) == (None, None)


def test_a_new_version_replaces_the_old_one(world: World, tmp_path: Path) -> None:
    s, kb, _ = world
    first = s.approvals.submit(s.crm.get_staff(code="TRN01"), doc(tmp_path))
    approve(s, "TRN02", first.ref)
    newer = doc(tmp_path)
    newer.write_text("# 高尔夫权益\n\n钻石客户每年可预约高尔夫练习场 6 次。\n", encoding="utf-8")
    second = s.approvals.submit(s.crm.get_staff(code="TRN01"), newer)
    approve(s, "TRN02", second.ref)
    assert s.approvals.get(first.id).status == "expired" and s.approvals.get(second.id).status == "live"
    assert kb.removed == [s.approvals.get(first.id).source]  # the fake names sources by path
