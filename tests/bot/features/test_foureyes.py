"""The one four-eyes workflow (`bot.features.approvals.foureyes`): documents and curated answers are two
kinds decided by the same code, and a kind only says how its records are stored and read."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

import pytest

from bot.core import Clock, ServiceError
from bot.features.approvals.foureyes import Also, FourEyes
from bot.features.approvals.review import Content
from crm_adapter import Role, Staff
from tests.bot.features.test_approvals import World, doc
from tests.bot.features.test_approvals import world as world

AUTHOR = Staff(code="TRN01", name="李静", role=Role.TRAINER, telegram_id=1)
OTHER = Staff(code="TRN02", name="孙悦", role=Role.TRAINER, telegram_id=2)
RM = Staff(code="RM001", name="王敏", role=Role.RM, telegram_id=3)


@dataclass(frozen=True)
class Note:
    id: int
    author: str
    status: str = "pending"
    text: str = "第一页\n第二页"


class NoteKind:
    """A third kind, kept in a dict: the workflow needs nothing else of it."""

    prefix, audit_kind, approved = "N", "note_change", "live"
    no_such = "没有编号为 {ref} 的笔记"
    ref_hint = "请写笔记编号"
    may_not_approve = "无权审批笔记"
    may_not_submit = "无权提交笔记"
    own_change = "{ref} 是您本人提交的"
    engine = None  # no audit trail in this test

    def __init__(self) -> None:
        self.notes = {1: Note(1, AUTHOR.code), 2: Note(2, AUTHOR.code)}
        self.expired: set[int] = set()

    def load(self, item_id: int) -> Note | None:
        return self.notes.get(item_id)

    def ref(self, item: Note) -> str:
        return f"N{item.id}"

    def submitter(self, item: Note) -> str:
        return item.author

    def status(self, item: Note) -> str:
        return item.status

    def status_name(self, item: Note) -> str:
        return item.status

    def content(self, item: Note) -> Content:
        pages = tuple(item.text.splitlines())
        return Content(ref=self.ref(item), key=f"{item.id}", title="笔记", submitter=item.author,
                       pending=item.status == "pending", pages=pages)  # fmt: skip

    def refusal(self, item: Note, today: date) -> str | None:
        return "已过期" if item.id in self.expired else None

    def payload(self, item: Note, action: str, extra: dict[str, object]) -> dict[str, object]:
        return {"action": action}

    def decide(
        self, item: Note, *, new: str, at: datetime, decided_by: str, note: str | None, also: Also | None
    ) -> Note | None:
        if self.notes[item.id].status != "pending":
            return None
        self.notes[item.id] = replace(item, status=new)
        return self.notes[item.id]


def test_any_kind_gets_the_same_rules() -> None:
    kind = NoteKind()
    flow: FourEyes[Note] = FourEyes(kind, clock=Clock())  # type: ignore[arg-type]  # no engine: no audit
    with pytest.raises(ServiceError, match="本人提交"):
        flow.approve(AUTHOR, 1)
    with pytest.raises(ServiceError, match="无权审批"):
        flow.approve(RM, 1)
    content, page = flow.first_unread(OTHER, 1)
    assert page == 1 and len(content.pages) == 2
    flow.shown.mark(OTHER.code, content.key, 1)
    flow.shown.mark(OTHER.code, content.key, 2)
    assert flow.first_unread(OTHER, 1)[1] is None
    assert flow.approve(OTHER, 1).status == "live"
    with pytest.raises(ServiceError, match="不能再审批"):
        flow.approve(OTHER, 1)
    kind.expired.add(2)
    with pytest.raises(ServiceError, match="已过期"):
        flow.approve(OTHER, 2)
    assert flow.reject(AUTHOR, 2, "").status == "rejected"  # the submitter may withdraw their own
    assert flow.parse_ref("n2") == 2


def test_documents_and_curated_answers_are_decided_by_the_one_workflow(world: World, tmp_path: Path) -> None:
    s, _, _ = world
    assert type(s.approvals.four_eyes) is type(s.curated_changes.four_eyes) is FourEyes
    trainer = s.crm.get_staff(code="TRN01")
    change = s.approvals.submit(trainer, doc(tmp_path))
    curated = s.curated_changes.submit(
        trainer, questions=["配偶开户要什么？"], answer="双方身份证件。", source=None, exchange_id=None
    )
    for flow, item_id in ((s.approvals.four_eyes, change.id), (s.curated_changes.four_eyes, curated.id)):
        with pytest.raises(ServiceError, match="四眼原则"):
            flow.check_approvable(trainer, item_id)


def test_a_document_approval_that_cannot_be_audited_is_not_published(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s, kb, _ = world
    change = s.approvals.submit(s.crm.get_staff(code="TRN01"), doc(tmp_path))
    assert s.audit is not None

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("audit database down")

    monkeypatch.setattr(s.audit, "append", broken)
    monkeypatch.setattr(s.audit, "append_in", broken)
    with pytest.raises(ServiceError, match="未能写入审计记录"):
        s.approvals.approve(s.crm.get_staff(code="CMP01"), change.id)
    monkeypatch.undo()
    assert s.approvals.get(change.id).status == "pending" and kb.ingested == []
