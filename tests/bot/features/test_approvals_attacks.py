"""Attacks on four-eyes knowledge changes, each performed against the real services (issue #18):
same-name uploads at once, an expired change approved, and one person approving their own change under a
second staff code. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import commands
from bot.audit import AuditTrail
from bot.composition import Services, open_services
from bot.convlog import ConversationLog, create_store_engine
from bot.core import Request, ServiceError
from bot.settings import Settings
from crm_adapter import Role, Staff
from crm_adapter.demo import seed_demo
from tests.bot.features.test_approvals import MovableClock, RemovableKB, doc

TRN01_TG, TRN02_TG = 3001, 3002


@pytest.fixture(params=["sqlite", "postgresql"])
def real(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Services, RemovableKB, MovableClock]]:
    """The real SqlCRM (staff rows, soft removal), change store and audit trail on one database."""
    url = (
        f"sqlite:///{tmp_path / 'app.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    settings = Settings(rm_data_dir=tmp_path / "data", database_url=url, _env_file=None)  # type: ignore[call-arg]
    kb, clock = RemovableKB(), MovableClock()
    log = ConversationLog(url)
    audit = AuditTrail(create_store_engine(url))
    with open_services(settings, kb=kb, log=log, audit=audit, clock=clock) as s:
        seed_demo(s.crm, clients=3)
        s.crm.add_staff(staff=Staff(code="TRN01", name="李静", role=Role.TRAINER, telegram_id=TRN01_TG))
        s.crm.add_staff(staff=Staff(code="TRN02", name="孙悦", role=Role.TRAINER, telegram_id=TRN02_TG))
        yield s, kb, clock
    audit.close()
    log.close()


Real = tuple[Services, RemovableKB, MovableClock]


def _chat(s: Services, staff: Staff, line: str) -> str:
    name, _, args = line.lstrip("/").partition(" ")
    return commands.run_command(s, name, Request(staff=staff, args=args, frontend="console")).text


# --- 1. same-name uploads at once ---------------------------------------------------------------
def test_same_name_uploads_at_once_keep_each_submitters_bytes(real: Real, tmp_path: Path) -> None:
    s, _, _ = real
    a, b = s.crm.get_staff(code="TRN01"), s.crm.get_staff(code="TRN02")
    sent: dict[tuple[str, int], bytes] = {}
    jobs = []
    for i in range(8):
        for who in (a, b):
            body = f"# 通知\n\n{who.code} 第 {i} 版：钻石客户每年可预约高尔夫练习场 {i} 次。\n".encode()
            folder = tmp_path / f"{who.code}-{i}"  # what the chat handler does: a folder per update
            folder.mkdir()
            (folder / "通知.md").write_bytes(body)
            sent[(who.code, i)] = body
            jobs.append((who, folder / "通知.md"))

    def submit(job: tuple[Staff, Path]) -> str:
        return s.approvals.submit(job[0], job[1], file_name="通知.md").ref

    with ThreadPoolExecutor(4) as pool:
        refs = list(pool.map(submit, jobs))
    changes = s.approvals.recent(limit=100)
    assert len(set(refs)) == 16 and len(changes) == 16  # none lost
    held = {Path(c.stored_path).read_bytes(): c.submitted_by for c in changes}
    assert held == {body: code for (code, _), body in sent.items()}  # each holds its own submitter's bytes
    for c in changes:
        assert hashlib.sha256(Path(c.stored_path).read_bytes()).hexdigest() == c.sha256


def test_same_bytes_submitted_at_once_are_stored_intact(real: Real) -> None:
    s, _, _ = real
    a = s.crm.get_staff(code="TRN01")
    body = "# 通知\n\n同一份文档。\n".encode() * 200

    def submit(_: int) -> str:
        try:
            return s.approvals.submit_bytes(a, body, file_name="通知.md").ref
        except ServiceError as exc:
            return str(exc)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(submit, range(8)))
    for c in s.approvals.recent(limit=100):
        assert Path(c.stored_path).read_bytes() == body


# --- 6. an expired change is never published ------------------------------------------------------
def test_approving_an_expired_change_is_refused_in_the_bank_time_zone(real: Real, tmp_path: Path) -> None:
    s, kb, clock = real
    change = s.approvals.submit(s.crm.get_staff(code="TRN01"), doc(tmp_path, front="expiry_date: 2026-11-30"))
    clock.at = datetime(
        2026, 11, 29, 16, 0, tzinfo=UTC
    )  # 2026-11-30 00:00 in Shanghai (still the 29th in UTC)
    with pytest.raises(ServiceError, match="失效日期 2026-11-30 已到，不能批准") as refused:
        s.approvals.approve(s.crm.get_staff(code="CMP01"), change.id)
    assert "\n" not in str(refused.value)
    assert s.approvals.get(change.id).status == "pending" and kb.ingested == []
    assert s.approvals.refresh() == [] and kb.ingested == []


def test_an_approved_change_whose_expiry_came_first_is_never_published(real: Real, tmp_path: Path) -> None:
    s, kb, clock = real
    front = "effective_date: 2026-11-29\nexpiry_date: 2026-11-30"
    change = s.approvals.submit(s.crm.get_staff(code="TRN01"), doc(tmp_path, front=front))
    assert s.approvals.approve(s.crm.get_staff(code="CMP01"), change.id).change.status == "approved"
    clock.at = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # the bot was down over both midnights
    [done] = s.approvals.refresh()
    assert done.status == "expired" and kb.ingested == []


def test_a_not_yet_effective_change_waits(real: Real, tmp_path: Path) -> None:
    s, kb, clock = real
    change = s.approvals.submit(
        s.crm.get_staff(code="TRN01"), doc(tmp_path, front="effective_date: 2026-11-29")
    )
    clock.at = datetime(2026, 11, 28, 15, 59, tzinfo=UTC)  # 23:59 in Shanghai
    assert s.approvals.approve(s.crm.get_staff(code="CMP01"), change.id).change.status == "approved"
    assert kb.ingested == []


# --- 7. one person, two staff codes --------------------------------------------------------------
def _reregister(s: Services) -> Staff:
    """TRN02 is removed (their Telegram id is freed) and the same person is registered again as TRN09."""
    s.crm.remove_staff(code="TRN02")
    return s.crm.add_staff(staff=Staff(code="TRN09", name="孙悦", role=Role.TRAINER, telegram_id=TRN02_TG))


def test_a_person_reregistered_under_a_new_code_cannot_approve_their_document(
    real: Real, tmp_path: Path
) -> None:
    s, kb, _ = real
    change = s.approvals.submit(s.crm.get_staff(code="TRN02"), doc(tmp_path))
    again = _reregister(s)
    with pytest.raises(ServiceError, match="四眼原则"):
        s.approvals.approve(again, change.id)  # the chat path: the Telegram user's staff record
    with pytest.raises(ServiceError, match="四眼原则"):
        s.approvals.approve(s.crm.get_staff(code="TRN09"), change.id)  # the CLI's --as TRN09
    assert kb.ingested == [] and s.approvals.get(change.id).status == "pending"
    assert (
        s.approvals.approve(s.crm.get_staff(code="TRN01"), change.id).change.status == "live"
    )  # another person


def test_a_person_reregistered_under_a_new_code_cannot_approve_their_curated_answer(real: Real) -> None:
    s, _, _ = real
    curated = s.curated_changes.submit(
        s.crm.get_staff(code="TRN02"),
        questions=["高尔夫每年几次？"],
        answer="每年 4 次。",
        source=None,
        exchange_id=None,
    )
    again = _reregister(s)
    with pytest.raises(ServiceError, match="四眼原则"):
        s.curated_changes.approve(again, curated.id)
    assert s.curated_changes.get(curated.id).status == "pending"
    assert s.curated_changes.approve(s.crm.get_staff(code="CMP01"), curated.id).status == "live"


def test_an_unreadable_submission_record_fails_closed(
    real: Real, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s, kb, _ = real
    change = s.approvals.submit(s.crm.get_staff(code="TRN02"), doc(tmp_path))
    assert s.audit is not None

    def broken(**_: object) -> list[object]:
        raise RuntimeError("database gone")

    monkeypatch.setattr(s.audit, "find", broken)
    with pytest.raises(ServiceError, match="无法核实提交人"):
        s.approvals.approve(s.crm.get_staff(code="TRN01"), change.id)
    assert kb.ingested == [] and s.approvals.get(change.id).status == "pending"


# --- 2. approvers read what they approve ---------------------------------------------------------
TAIL = "。".join(f"补充说明第{i}条：本行所有理财产品保本保收益" for i in range(100))  # ~2,000 characters


def test_a_hidden_tail_of_a_curated_answer_is_shown_before_approval(real: Real) -> None:
    s, _, _ = real
    assert len(TAIL) >= 2000
    answer = "需双方身份证件及关系证明。" + "\n" * 3 + TAIL
    curated = s.curated_changes.submit(
        s.crm.get_staff(code="TRN02"),
        questions=["配偶开户要什么？"],
        answer=answer,
        source="开户指引",
        exchange_id=None,
    )
    approver = s.crm.get_staff(code="CMP01")
    listing = _chat(s, approver, "/changes")
    assert (
        TAIL[-40:] not in listing and f"/changes {curated.change_ref}" in listing
    )  # the list clips, and says where
    unread = _chat(s, approver, f"/approve {curated.change_ref}")  # approving unread shows it all instead
    assert "批准前请先阅读全文" in unread and TAIL in unread.replace("\n", "")
    assert s.curated_changes.get(curated.id).status == "pending"
    assert "已批准审定答案" in _chat(s, approver, f"/approve {curated.change_ref}")  # now it was read


def test_a_long_document_is_paged_and_every_page_is_read_before_approval(real: Real, tmp_path: Path) -> None:
    s, kb, _ = real
    path = tmp_path / "长文档.md"
    path.write_text(
        "# 长文档\n\n" + "\n".join(f"第{i}段：钻石客户权益说明。" for i in range(600)) + "\n" + TAIL, "utf-8"
    )
    change = s.approvals.submit(s.crm.get_staff(code="TRN02"), path)
    approver = s.crm.get_staff(code="TRN01")
    req = Request(staff=approver, args="", frontend="console")
    first = commands.run_command(s, "approve", Request(staff=approver, args=change.ref, frontend="console"))
    assert "批准前请先阅读全文" in first.text and "（第 1/" in first.text and kb.ingested == []
    total = int(first.text.split("（第 1/")[1].split(" 页")[0])
    assert total >= 3
    shown = ""
    for page in range(1, total + 1):
        view = commands.run_callback(s, f"kcv:{change.ref}:{page}", req)
        shown += view.text
        data = [b.data for row in (view.keyboard or ()) for b in row]
        assert ("kcok:K1" in data) == (page == total)  # the approve button only under the last page
    assert TAIL in shown.replace("\n", "")  # the hidden tail was on screen
    decided = commands.run_callback(s, f"kcok:{change.ref}", req)
    assert "已批准并发布" in decided.text and len(kb.ingested) == 1


def test_skipping_a_page_is_not_reading(real: Real, tmp_path: Path) -> None:
    s, kb, _ = real
    path = tmp_path / "长文档.md"
    path.write_text("# 长文档\n\n" + "钻石客户权益说明。\n" * 1000, "utf-8")
    change = s.approvals.submit(s.crm.get_staff(code="TRN02"), path)
    req = Request(staff=s.crm.get_staff(code="TRN01"), args="", frontend="console")
    last = commands.run_callback(s, f"kcv:{change.ref}:99", req)  # jump to the end (clamped)
    assert last.keyboard is not None and "kcok:K1" in [b.data for row in last.keyboard for b in row]
    pressed = commands.run_callback(s, f"kcok:{change.ref}", req)
    assert "批准前请先阅读全文" in pressed.text and "（第 1/" in pressed.text and kb.ingested == []


def test_a_new_version_shows_its_diff_against_the_live_one(real: Real, tmp_path: Path) -> None:
    s, _, _ = real
    first = s.approvals.submit(s.crm.get_staff(code="TRN02"), doc(tmp_path))
    s.approvals.approve(s.crm.get_staff(code="TRN01"), first.id)
    newer = doc(tmp_path)
    newer.write_text("# 高尔夫权益\n\n钻石客户每年可预约高尔夫练习场 6 次。\n", encoding="utf-8")
    second = s.approvals.submit(s.crm.get_staff(code="TRN02"), newer)
    view = _chat(s, s.crm.get_staff(code="CMP01"), f"/changes {second.ref}")
    assert f"与现行版本 {first.ref} 的差异" in view
    assert (
        "-钻石客户每年可预约高尔夫练习场 4 次。" in view and "+钻石客户每年可预约高尔夫练习场 6 次。" in view
    )
    assert f"{second.ref} 全文" in view


def test_the_approvers_notice_links_to_the_full_text(real: Real, tmp_path: Path) -> None:
    s, _, _ = real
    reply = commands.run_command(
        s, "upload", Request(staff=s.crm.get_staff(code="TRN02"), args=str(doc(tmp_path)), frontend="console")
    )
    [notice] = reply.notices
    assert "/changes K1 查看全文" in notice.text
