"""`audit verify` checks the records, not only the chain: contact records, benefit uses, exchanges and
knowledge changes edited, deleted or never audited in the database are named; rows outside the chain's
sequence are reported; an anchor kept outside the database catches a chain cut short or rebuilt whole;
an audit append that fails stores nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from bot.audit import Anchor, VerifyReport
from bot.audit.records import RECORD_HASH, record_digest
from bot.audit.trail import GENESIS, row_hash
from bot.commands import run_command
from bot.composition import Services, audited_records, open_crm, open_services
from bot.core import Request, ServiceError
from bot.features.benefits.service import USE_NOT_SAVED
from bot.features.contact_log.service import LogDraft
from bot.settings import Settings, get_settings
from crm_adapter import Channel
from tests.fakes.knowledge import FakeKB


@pytest.fixture(params=["sqlite", "postgres"])
def app(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Services]:
    """The real CRM with the demo data (its contact records audited as seeded), the conversation log and
    the trail on one database, as `make run` sets them up; the CLI reads the same settings."""
    url = None if request.param == "sqlite" else str(request.getfixturevalue("postgres_url"))
    if url:
        monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    settings = Settings(rm_data_dir=tmp_path / "data", database_url=url, _env_file=None)  # type: ignore[call-arg]
    settings.ensure_data_dir()
    crm = open_crm(settings)
    with open_services(settings, kb=FakeKB(), crm=crm, demo_data=True) as s:
        yield s
    crm.close()


def _verify(s: Services, anchor: Anchor | None = None) -> VerifyReport:
    assert s.audit is not None
    return s.audit.verify(records=audited_records(s.audit.engine), anchor=anchor)


def _sql(s: Services, statement: str, **params: Any) -> None:
    with s.log.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def _log_contact(s: Services, summary: str = "例行问候，客户关注海外配置", client_id: str = "") -> int:
    rm = s.crm.get_staff(code="RM001")
    client_id = client_id or s.crm.list_contacts(actor="RM001", limit=1)[0].client_id
    draft = LogDraft(client=s.crm.get_client(actor="RM001", client_id=client_id), channel=Channel.PHONE,
                     summary=summary)  # fmt: skip
    return s.contacts.save(rm, draft, source="console", idempotency_key=None).record.id


def _ask(s: Services, question: str = "钻石客户有什么权益？") -> int:
    exchange_id = s.ask.ask(staff_code="RM001", question=question, channel="console").exchange_id
    assert exchange_id is not None
    return exchange_id


def _used(s: Services, args: str, update_id: int | None = None) -> str:
    """`/used <args>` by RM001 (for one of their 钻石 clients: the fake table counts 机场贵宾厅)."""
    with s.log.engine.connect() as conn:
        client_id = conn.execute(
            sa.text("SELECT min(client_id) FROM crm_clients WHERE rm_code = 'RM001' AND tier = '钻石'")
        ).scalar_one()
    request = Request(staff=s.crm.get_staff(code="RM001"), args=f"{client_id} {args}", frontend="console",
                      chat_id=1, update_id=update_id)  # fmt: skip
    return run_command(s, "used", request).text


def _uses(s: Services) -> list[int]:
    with s.log.engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT id FROM crm_benefit_uses ORDER BY id")).scalars())


def _contacts(s: Services) -> int:
    with s.log.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM crm_contacts")).scalar_one())


def test_seeded_and_logged_records_verify_and_feedback_changes_nothing(app: Services) -> None:
    seeded = _contacts(app)
    _log_contact(app)
    exchange_id = _ask(app)
    app.ask.feedback(staff_code="RM001", exchange_id=exchange_id, value="down")  # may come later
    report = _verify(app)
    assert report.ok, report.problems
    assert report.records == seeded + 2 and seeded > 100  # every seeded record is audited too


def test_an_edited_contact_summary_is_named(app: Services) -> None:
    contact_id = _log_contact(app)
    _sql(app, "UPDATE crm_contacts SET summary = '客户同意购买' WHERE id = :id", id=contact_id)
    report = _verify(app)
    assert not report.ok and report.broken_at is None  # the chain itself is intact
    assert report.problems == (f"联系记录 C{contact_id} 内容与审计记录不符（已被修改）",)
    result = CliRunner().invoke(_cli(), ["audit", "verify"])
    assert result.exit_code == 1 and f"联系记录 C{contact_id} 内容与审计记录不符" in result.output


def test_an_edited_exchange_question_is_named(app: Services) -> None:
    exchange_id = _ask(app)
    _sql(app, "UPDATE bot_exchanges SET question = '客户可以保本吗？' WHERE id = :id", id=exchange_id)
    assert _verify(app).problems == (f"问答 Q{exchange_id} 内容与审计记录不符（已被修改）",)


def test_deleted_and_unaudited_records_are_named(app: Services) -> None:
    contact_id, exchange_id = _log_contact(app), _ask(app)
    _sql(app, "DELETE FROM crm_contacts WHERE id = :id", id=contact_id)
    _sql(app, "DELETE FROM bot_exchanges WHERE id = :id", id=exchange_id)
    _sql(app, "INSERT INTO bot_exchanges (id, staff_code, channel, question, answer, citations, grounded,"
              " composer, flags, created_at) VALUES (999, 'RM001', 'console', '伪造', '伪造', '[]', true,"
              " 'rules', '[]', CURRENT_TIMESTAMP)")  # fmt: skip
    problems = _verify(app).problems
    assert f"联系记录 C{contact_id} 已被删除（审计记录中有，库中没有）" in problems
    assert f"问答 Q{exchange_id} 已被删除（审计记录中有，库中没有）" in problems
    assert "问答 Q999 未经审计（库中有，审计记录中没有）" in problems and len(problems) == 3


def test_a_forged_row_with_id_minus_one_is_reported_not_shown(app: Services) -> None:
    exchange_id = _ask(app)
    forged = "(-1, CURRENT_TIMESTAMP, 'answer', 'RM001', :ref, '{}', 'x', 'y')"
    _sql(app, f"INSERT INTO audit_chain (id, at, kind, actor, ref, payload, prev_hash, hash) VALUES {forged}",
         ref=str(exchange_id))  # fmt: skip
    report = _verify(app)
    assert not report.ok and report.broken_at == -1 and report.problems[0].startswith("审计记录 #-1")
    assert app.audit is not None and [
        e.id > 0 for e in app.audit.find(kind="answer", ref=str(exchange_id))
    ] == [True]


def test_deleting_the_last_rows_or_all_is_caught_with_the_anchor(app: Services) -> None:
    assert app.audit is not None
    _ask(app)
    anchor = app.audit.anchor()
    assert anchor.rows == _verify(app).rows and str(anchor) == f"{anchor.hash}:{anchor.rows}"
    # The last answer and its audit row go together: nothing inside the database is left to notice.
    _sql(app, "DELETE FROM bot_exchanges")
    _sql(app, "DELETE FROM audit_chain WHERE id = :id", id=anchor.rows)
    assert _verify(app).ok
    cut = _verify(app, anchor)
    assert not cut.ok and f"少于锚点的 {anchor.rows} 条" in cut.problems[0]
    # Everything at once: an empty chain and no records.
    _sql(app, "DELETE FROM audit_chain")
    _sql(app, "DELETE FROM crm_contacts")
    assert _verify(app).ok and _verify(app).rows == 0
    assert "被截断或清空" in _verify(app, anchor).problems[0]
    result = CliRunner().invoke(_cli(), ["audit", "verify", "--anchor", str(anchor)])
    assert result.exit_code == 1 and "被截断或清空" in result.output


def test_a_chain_rebuilt_whole_is_caught_with_the_anchor(app: Services) -> None:
    """Whoever can write the database edits a record, fixes its audit row and recomputes every hash
    after it: the chain and the records agree again, only the anchor kept outside tells."""
    assert app.audit is not None
    contact_id = _log_contact(app)
    _ask(app)
    anchor = app.audit.anchor()
    _sql(app, "UPDATE crm_contacts SET summary = '客户同意购买' WHERE id = :id", id=contact_id)
    _rebuild(app, contact_id)
    assert _verify(app).ok  # a consistent forgery passes without the anchor
    report = _verify(app, anchor)
    assert not report.ok and report.problems == (f"第 {anchor.rows} 条的哈希与锚点不符（链被重建）",)
    runner = CliRunner()
    assert runner.invoke(_cli(), ["audit", "verify", "--anchor", str(anchor)]).exit_code == 1
    fresh = runner.invoke(_cli(), ["audit", "anchor"]).output.strip()
    assert runner.invoke(_cli(), ["audit", "verify", "--anchor", fresh]).exit_code == 0
    bad = runner.invoke(_cli(), ["audit", "verify", "--anchor", "nope"])
    assert bad.exit_code == 2 and "HASH:N" in bad.output and "Traceback" not in bad.output


def _rebuild(s: Services, contact_id: int) -> None:
    """Forge consistently: the contact's audit row gets the edited record's hash, every row a new hash."""
    from bot.audit.trail import _TABLE as chain_table
    from crm_adapter.mapping import contact_model
    from crm_adapter.orm import ContactRow

    contacts = ContactRow.__table__
    with s.log.engine.begin() as conn:
        row = conn.execute(sa.select(contacts).where(contacts.c.id == contact_id)).one()
        fields = contact_model(row).model_dump(exclude={"duplicate"})
        chain = conn.execute(sa.select(chain_table).order_by(chain_table.c.id)).all()
        conn.execute(sa.delete(chain_table))
        prev = GENESIS
        for r in chain:
            payload = r.payload
            if r.kind == "contact" and r.ref == str(contact_id):
                body = json.loads(payload)
                body.update(summary=fields["summary"], **{RECORD_HASH: record_digest(fields)})
                payload = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            at = r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC)
            values = {
                "id": r.id,
                "at": at,
                "kind": r.kind,
                "actor": r.actor,
                "ref": r.ref,
                "payload": payload,
            }
            digest = row_hash(**values, prev_hash=prev)
            conn.execute(sa.insert(chain_table), {**values, "prev_hash": prev, "hash": digest})
            prev = digest


def test_a_contact_whose_audit_append_fails_is_not_stored(
    app: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: the trail refuses the append inside the CRM's transaction → no record, one error."""
    assert app.audit is not None
    before = _contacts(app)

    def refuse(*_a: object, **_kw: object) -> None:
        raise sa.exc.OperationalError("INSERT INTO audit_chain …", {}, Exception("disk I/O error"))

    monkeypatch.setattr(app.audit, "append_in", refuse)
    with pytest.raises(sa.exc.OperationalError):
        _log_contact(app, "客户来电咨询理财")
    assert _contacts(app) == before
    monkeypatch.undo()
    contact_id = _log_contact(app, "客户来电咨询理财")  # the RM sends it again: stored and audited once
    assert _contacts(app) == before + 1 and len(app.audit.find(kind="contact", ref=str(contact_id))) == 1
    assert _verify(app).ok


def test_a_knowledge_change_edited_in_the_database_is_named(
    app: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert app.audit is not None
    doc = tmp_path / "高尔夫权益.md"
    doc.write_text("# 高尔夫权益\n\n钻石客户每年可预约高尔夫练习场 4 次。\n", encoding="utf-8")
    change = app.approvals.submit(app.crm.get_staff(code="TRN01"), doc)

    def refuse(*_a: object, **_kw: object) -> None:
        raise sa.exc.OperationalError("INSERT INTO audit_chain …", {}, Exception("disk I/O error"))

    monkeypatch.setattr(app.audit, "append_in", refuse)
    with pytest.raises(sa.exc.OperationalError):  # an approval that cannot be audited does not happen
        app.approvals.reject(app.crm.get_staff(code="CMP01"), change.id, "不合规")
    monkeypatch.undo()
    assert app.approvals.get(change.id).status == "pending" and _verify(app).ok
    _sql(app, "UPDATE bot_knowledge_changes SET status = 'live' WHERE id = :id", id=change.id)
    assert _verify(app).problems == (f"知识变更 {change.ref} 内容与审计记录不符（已被修改）",)


def test_an_answer_records_the_knowledge_snapshot(app: Services) -> None:
    assert app.audit is not None
    [event] = app.audit.find(kind="answer", ref=str(_ask(app)))
    assert event.payload["knowledge_snapshot"] == app.kb.snapshot_id() == "fake-0"


def _cli() -> Any:
    from bot.cli import cli

    get_settings.cache_clear()
    return cli


def test_a_crm_elsewhere_fails_the_request_when_the_append_fails(
    live_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CRM that cannot join the trail's transaction (here the fake, no database): the record is stored
    first; a failed append still fails the request, and the RM's resend audits it once."""
    from tests.fakes.crm import CLIENTS, FakeCRM

    s = live_services
    client_id = next(c.client_id for c in CLIENTS if c.rm_code == "RM001")
    assert s.audit is not None and isinstance(s.crm, FakeCRM)

    def refuse(*_a: object, **_kw: object) -> None:
        raise sa.exc.OperationalError("INSERT INTO audit_chain …", {}, Exception("disk I/O error"))

    monkeypatch.setattr(s.audit, "append", refuse)
    with pytest.raises(sa.exc.OperationalError):
        _log_contact(s, "客户来电咨询理财", client_id)
    monkeypatch.undo()
    [stored] = [r for r in s.crm.contacts if r.summary == "客户来电咨询理财"]
    assert s.audit.find(kind="contact", ref=str(stored.id)) == []
    assert (
        _log_contact(s, "客户来电咨询理财", client_id) == stored.id
    )  # the resend: the same record, now audited
    [event] = s.audit.find(kind="contact", ref=str(stored.id))
    assert event.payload[RECORD_HASH] == record_digest(stored.model_dump(exclude={"duplicate"}))


def test_benefit_uses_edited_deleted_or_unaudited_are_named(app: Services) -> None:
    _used(app, "贵宾厅 今天 陪同登机")
    _used(app, "贵宾厅 今天 转机")
    edited, deleted = _uses(app)
    assert _verify(app).ok
    _sql(app, "UPDATE crm_benefit_uses SET note = '未使用' WHERE id = :id", id=edited)
    _sql(app, "DELETE FROM crm_benefit_uses WHERE id = :id", id=deleted)
    _sql(app, "INSERT INTO crm_benefit_uses (id, client_id, benefit, used_on, note, recorded_by, source,"
              " created_at, fingerprint) SELECT 999, client_id, benefit, used_on, '伪造', recorded_by,"
              " source, created_at, 'forged' FROM crm_benefit_uses WHERE id = :id", id=edited)  # fmt: skip
    assert _verify(app).problems == (
        f"权益使用 B{edited} 内容与审计记录不符（已被修改）",
        "权益使用 B999 未经审计（库中有，审计记录中没有）",
        f"权益使用 B{deleted} 已被删除（审计记录中有，库中没有）",
    )
    result = CliRunner().invoke(_cli(), ["audit", "verify"])
    assert result.exit_code == 1 and f"权益使用 B{edited} 内容与审计记录不符" in result.output


def test_a_benefit_use_whose_audit_append_fails_is_not_stored(
    app: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: the trail refuses the append inside the CRM's transaction → no use, one error
    line; the RM's resend is stored and audited once, a second resend counts nothing more."""
    assert app.audit is not None

    def refuse(*_a: object, **_kw: object) -> None:
        raise sa.exc.OperationalError("INSERT INTO audit_chain …", {}, Exception("disk I/O error"))

    monkeypatch.setattr(app.audit, "append_in", refuse)
    with pytest.raises(ServiceError) as refused:
        _used(app, "贵宾厅 今天 陪同登机", update_id=1)
    assert refused.value.message == USE_NOT_SAVED and "\n" not in USE_NOT_SAVED
    assert _uses(app) == []
    monkeypatch.undo()
    assert "已登记" in _used(app, "贵宾厅 今天 陪同登机", update_id=2)
    assert "未重复计数" in _used(app, "贵宾厅 今天 陪同登机", update_id=3)  # sent once more
    [use_id] = _uses(app)
    assert len(app.audit.find(kind="benefit_use", ref=str(use_id))) == 1 and _verify(app).ok


def test_imported_benefit_uses_are_audited(app: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past uses imported by an admin are audited in the import's transaction: verify passes; an import
    whose audit append fails imports nothing."""
    assert app.audit is not None
    with app.log.engine.connect() as conn:
        client_id = conn.execute(sa.text("SELECT min(client_id) FROM crm_clients")).scalar_one()
    rows: list[dict[str, str | None]] = [
        {"client_id": client_id, "benefit": "机场贵宾厅", "used_on": "2025-02-01", "note": "往年"},
        {"client_id": client_id, "benefit": "贵宾厅", "used_on": "2025-02-02"},
    ]
    admin = app.crm.get_staff(code="ADM01")

    def refuse(*_a: object, **_kw: object) -> None:
        raise sa.exc.OperationalError("INSERT INTO audit_chain …", {}, Exception("disk I/O error"))

    monkeypatch.setattr(app.audit, "append_in", refuse)
    with pytest.raises(sa.exc.OperationalError):
        app.benefits.import_uses(admin, rows, [2, 3])
    assert _uses(app) == []
    monkeypatch.undo()
    assert app.benefits.import_uses(admin, rows, [2, 3]).created == 2
    assert len(_uses(app)) == 2 and _verify(app).ok
