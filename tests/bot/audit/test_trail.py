"""The audit trail: a hash chain on SQLite and PostgreSQL; edits and deletions made directly in the
database are caught by `verify`, and `audit show` replays an answer's sources."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from bot.audit import AuditTrail
from bot.convlog import create_store_engine


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'audit.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def trail(db_url: str) -> Iterator[AuditTrail]:
    t = AuditTrail(create_store_engine(db_url))
    yield t
    t.close()


def _fill(trail: AuditTrail, n: int = 5) -> None:
    for i in range(n):
        trail.append(kind="answer", actor="RM001", ref=str(i + 1), payload={"question": f"问题{i}", "n": i})


def _sql(db_url: str, statement: str) -> None:
    engine = create_store_engine(db_url)
    with engine.begin() as conn:
        conn.execute(sa.text(statement))
    engine.dispose()


def test_an_intact_chain_verifies(trail: AuditTrail) -> None:
    assert trail.verify().ok and trail.verify().rows == 0
    _fill(trail)
    report = trail.verify()
    assert report.ok and report.rows == 5
    [event] = trail.find(kind="answer", ref="3")
    assert event.payload == {"question": "问题2", "n": 2}


def test_an_edited_row_is_reported(trail: AuditTrail, db_url: str) -> None:
    _fill(trail)
    _sql(db_url, "UPDATE audit_chain SET payload = replace(payload, '问题2', '问题X') WHERE id = 3")
    report = trail.verify()
    assert not report.ok and report.broken_at == 3 and "修改" in report.reason


def test_a_deleted_row_is_reported(trail: AuditTrail, db_url: str) -> None:
    _fill(trail)
    _sql(db_url, "DELETE FROM audit_chain WHERE id = 2")
    report = trail.verify()
    assert not report.ok and report.broken_at == 3 and "删除" in report.reason


def test_an_edited_actor_is_reported(trail: AuditTrail, db_url: str) -> None:
    """Changing who did it (not just what) breaks the content hash too."""
    _fill(trail)
    _sql(db_url, "UPDATE audit_chain SET actor = 'RM999' WHERE id = 5")
    assert trail.verify().broken_at == 5


def test_concurrent_appends_keep_one_chain(trail: AuditTrail) -> None:
    threads = [threading.Thread(target=_fill, args=(trail, 20)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = trail.verify()
    assert report.ok and report.rows == 80


def test_answers_contacts_and_card_reads_are_audited(
    live_services: object, crm: object, tmp_path: Path
) -> None:
    from bot.composition import Services
    from bot.features import ask, clients, contact_log
    from tests.bot.app_fixtures import req

    assert isinstance(live_services, Services)
    s = live_services
    assert s.audit is not None
    reply = ask.ask(s.ask, req(crm, "RM001", "钻石客户有什么权益？"))  # type: ignore[arg-type]
    exchange_id = reply.keyboard[0][0].data.rsplit(":", 1)[1] if reply.keyboard else ""
    [answer] = s.audit.find(kind="answer", ref=exchange_id)
    assert answer.payload["sources"][0]["source"] == "bundled:03.md" and answer.actor == "RM001"
    clients.client_pick(s.clients, req(crm, "RM001", "C0001"))  # type: ignore[arg-type]
    assert s.audit.find(kind="client_read", ref="C0001")
    clients.client(s.clients, req(crm, "RM001", "zhangwei"))  # type: ignore[arg-type]
    [listed] = [
        e for e in s.audit.find(kind="client_search", ref="C0001") if e.payload["query"] == "zhangwei"
    ]
    assert listed.payload["results"][:2] == ["C0001", "C0002"]  # which clients a search list showed
    contact_log.start(s.contacts, req(crm, "RM001", "刘洋 电话 例行问候", update_id=5))  # type: ignore[arg-type]
    contact_log.start(s.contacts, req(crm, "RM001", "刘洋 电话 例行问候", update_id=5))  # type: ignore[arg-type]
    assert len(s.audit.find(kind="contact", ref="1")) == 1  # a resend is not audited twice
    assert s.audit.verify().ok


def test_audit_cli_verify_and_show(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bot.cli import cli
    from bot.settings import get_settings

    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    from bot.convlog import ConversationLog
    from bot.features.ask import AskService
    from tests.fakes.knowledge import FakeKB

    log = ConversationLog(url)
    trail = AuditTrail(create_store_engine(url))
    asked = AskService(kb=FakeKB(), log=log, audit=trail).ask(
        staff_code="RM001", question="钻石权益", channel="cli"
    )
    trail.close()
    log.close()
    runner = CliRunner()
    ok = runner.invoke(cli, ["audit", "verify"])
    assert ok.exit_code == 0 and "intact: 1 rows, 1 records match" in ok.output
    shown = runner.invoke(cli, ["audit", "show", str(asked.exchange_id)])
    assert shown.exit_code == 0 and "钻石权益" in shown.output
    assert '+08:00"' in shown.output  # the bank's time zone (RM_TIMEZONE), not UTC
    assert runner.invoke(cli, ["audit", "show", "8"]).exit_code != 0
    _sql(url, "UPDATE audit_chain SET actor = 'X' WHERE id = 1")
    broken = runner.invoke(cli, ["audit", "verify"])
    assert broken.exit_code != 0 and "broken at row 1" in broken.output


@pytest.fixture
def same_db_services(settings: object, kb: object, crm: object) -> Iterator[object]:
    """Services whose conversation log and audit trail share one database, as in production."""
    from bot.composition import open_services
    from bot.convlog import ConversationLog
    from bot.settings import Settings

    assert isinstance(settings, Settings)
    log = ConversationLog(settings.effective_database_url)
    with open_services(settings, kb=kb, crm=crm, log=log) as s:  # type: ignore[arg-type]
        yield s
    log.close()


def test_client_data_is_not_shown_when_it_cannot_be_audited(
    same_db_services: object, crm: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fault injection: the audit trail refuses writes → no card, no client list, no answer (fail closed)."""
    from bot.composition import Services
    from bot.features import ask, clients
    from tests.bot.app_fixtures import req

    assert isinstance(same_db_services, Services)
    s = same_db_services
    assert s.audit is not None and s.audit.shares_database(s.log.engine)

    def refuse(*_a: object, **_kw: object) -> None:
        raise sa.exc.OperationalError("INSERT INTO audit_chain …", {}, Exception("disk I/O error"))

    monkeypatch.setattr(s.audit, "append", refuse)
    monkeypatch.setattr(s.audit, "append_in", refuse)
    before = len(s.log.list_exchanges(limit=100))
    for show in (
        lambda: clients.client_pick(s.clients, req(crm, "RM001", "C0001")),  # type: ignore[arg-type]
        lambda: clients.client(s.clients, req(crm, "RM001", "zhangwei")),  # type: ignore[arg-type]
        lambda: ask.ask(s.ask, req(crm, "RM001", "钻石客户有什么权益？")),  # type: ignore[arg-type]
    ):
        with pytest.raises(sa.exc.OperationalError):
            show()
    assert len(s.log.list_exchanges(limit=100)) == before  # the unaudited answer is not logged either
    monkeypatch.undo()
    ask.ask(s.ask, req(crm, "RM001", "钻石客户有什么权益？"))  # type: ignore[arg-type]
    [exchange] = s.log.list_exchanges(limit=100)
    assert s.audit.find(kind="answer", ref=str(exchange.id)) and s.audit.verify().ok


def test_lists_of_clients_are_audited(same_db_services: object, crm: object) -> None:
    """/today and the review's contact records show clients: each list is an audited client-data access."""
    from bot.composition import Services
    from crm_adapter import Channel, NewContact

    assert isinstance(same_db_services, Services)
    s = same_db_services
    assert s.audit is not None
    view = s.today.view(s.crm.get_staff(code="RM001"))
    shown = {i.client.client_id for i in view.items}  # follow-ups, birthdays, reviews, assessments due
    [today] = s.audit.find(kind="client_list", ref="today")
    assert shown and set(today.payload["clients"]) == shown and today.actor == "RM001"
    s.crm.create_contact(
        actor="RM001", contact=NewContact(client_id="C0001", channel=Channel.PHONE, summary="例行问候")
    )
    s.supervision.review(s.crm.get_staff(code="SUP01"))
    [listed] = s.audit.find(kind="client_list", ref="contacts:RM001")
    assert listed.payload["clients"] == ["C0001"] and listed.actor == "SUP01"
    assert s.audit.verify().ok
