"""Two processes writing contact records to one SQLite file at the same time lose nothing."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from crm_adapter.models import Channel, NewContact
from crm_adapter.sql import SqlCRM
from tests.crm_adapter.factories import seed_org

PER_PROCESS = 200


def _writer(url: str, worker: int, start: object) -> None:
    crm = SqlCRM(url, timezone="Asia/Shanghai")
    try:
        start.wait()  # type: ignore[attr-defined]
        for i in range(PER_PROCESS):
            actor, client_id = ("RM001", "C0001") if i % 2 else ("RM002", "C0003")
            crm.create_contact(
                actor=actor,
                contact=NewContact(
                    client_id=client_id,
                    channel=Channel.WECHAT,
                    summary=f"进程 {worker} 第 {i} 条",
                    idempotency_key=f"w{worker}:{i}",
                ),
            )
            # Reads interleave with writes (they write the access log too).
            crm.search_clients(actor=actor, query="张伟")
    finally:
        crm.close()


@pytest.mark.slow
def test_two_processes_lose_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    crm = SqlCRM(url, timezone="Asia/Shanghai")
    seed_org(crm)
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=_writer, args=(url, n, start)) for n in range(2)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=240)
    assert [w.exitcode for w in workers] == [0, 0]
    contacts = crm.list_contacts(actor="ADM01", limit=1000)
    assert len(contacts) == 2 * PER_PROCESS
    assert {c.idempotency_key for c in contacts} == {
        f"w{n}:{i}" for n in range(2) for i in range(PER_PROCESS)
    }
    crm.close()


@pytest.mark.slow
def test_two_processes_opening_a_fresh_database_migrate_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=SqlCRM, args=(url,)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [w.exitcode for w in workers] == [0, 0]
    SqlCRM(url).close()
