"""Audit trail: append latency per event (target ≤ 1 ms p95) and `verify` over 1M rows (≤ 60 s).

    .venv/bin/python bench/bench_audit.py [--db sqlite|postgres] [--rows 1000000] [--appends 2000]

The 1M-row chain is bulk-loaded with the same hash function the trail uses, then verified as
`rm-assistant audit verify` does. PostgreSQL uses a throw-away database on TEST_DATABASE_URL's server.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from bot.audit.records import RECORD_HASH, exchange_fields, record_digest
from bot.audit.trail import GENESIS, AuditTrail, row_hash
from bot.composition import audited_records
from bot.convlog import create_store_engine

INSERT = sa.text(
    "INSERT INTO audit_chain (id, at, kind, actor, ref, payload, prev_hash, hash) "
    "VALUES (:id, :at, :kind, :actor, :ref, :payload, :prev_hash, :hash)"
)
PAYLOAD = {"question": "钻石客户每年可以预约几次专家号？", "sources": [{"n": 1, "source": "bundled:03.md"}]}


def _pg_url() -> tuple[str, str]:
    admin = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    name = f"rm_bench_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin, sa.engine.make_url(admin).set(database=name).render_as_string(hide_password=False)


def bulk_load(trail_url: str, rows: int) -> float:
    engine = create_store_engine(trail_url)
    body = json.dumps(PAYLOAD, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    start = time.perf_counter()
    prev, batch = GENESIS, []
    at = datetime.now(UTC)
    with engine.begin() as conn:
        for i in range(1, rows + 1):
            digest = row_hash(
                id=i, at=at, kind="answer", actor="RM001", ref=str(i), payload=body, prev_hash=prev
            )
            batch.append({"id": i, "at": at, "kind": "answer", "actor": "RM001", "ref": str(i),
                          "payload": body, "prev_hash": prev, "hash": digest})  # fmt: skip
            prev = digest
            if len(batch) == 20_000:
                conn.execute(INSERT, batch)
                batch = []
        if batch:
            conn.execute(INSERT, batch)
    engine.dispose()
    return time.perf_counter() - start


def _pcts(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[int(len(times) * 0.95)]


def per_answer(url: str, n: int) -> dict[str, tuple[float, float]]:
    """What auditing adds to logging one answer: the log write alone, then with the audit append in its own
    transaction (a second durable commit), then inside the log's transaction (`append_in`)."""
    from bot.convlog import ConversationLog
    from knowledge import Answer

    log = ConversationLog(url)
    trail = AuditTrail(create_store_engine(url))
    answer = Answer(question="q", lead=("钻石客户每年可预约专家号 5 次[1]。",), citations=(), grounded=True)
    out: dict[str, list[float]] = {
        "log only": [],
        "log + separate append": [],
        "log + append in its transaction": [],
        "log + append in its transaction + record hash": [],
    }
    for i in range(n):
        for mode, times in out.items():
            t0 = time.perf_counter()
            if mode == "log only":
                log.record(staff_code="RM001", channel="bench", question=f"问题 {i}", answer=answer)
            elif mode == "log + separate append":
                ex = log.record(staff_code="RM001", channel="bench", question=f"问题 {i}", answer=answer)
                trail.append(kind="answer", actor="RM001", ref=str(ex.id), payload=PAYLOAD)
            elif mode == "log + append in its transaction":
                log.record(
                    staff_code="RM001", channel="bench", question=f"问题 {i}", answer=answer,
                    also=lambda conn, ex: trail.append_in(
                        conn, kind="answer", actor="RM001", ref=str(ex.id), payload=PAYLOAD
                    ),
                )  # fmt: skip
            else:  # as `AskService` now: the exchange's content hash in the payload (`audit verify`)
                log.record(
                    staff_code="RM001", channel="bench", question=f"问题 {i}", answer=answer,
                    also=lambda conn, ex: trail.append_in(
                        conn, kind="answer", actor="RM001", ref=str(ex.id),
                        payload={**PAYLOAD, RECORD_HASH: record_digest(exchange_fields(ex))},
                    ),
                )  # fmt: skip
            times.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    report = trail.verify(records=audited_records(trail.engine))
    print(f"verify with the records: {report.rows:,} rows, {report.records:,} records, "
          f"{time.perf_counter() - t0:.2f} s")  # fmt: skip
    trail.close()
    log.close()
    return {mode: _pcts(times) for mode, times in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--answers-only", action="store_true", help="Only the per-answer figures.")
    args = parser.parse_args()
    answers_url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='rm_bench_ans_')) / 'app.db'}"
    if args.db == "postgres":
        answers_url = _pg_url()[1]
    for mode, (a50, a95) in per_answer(answers_url, min(args.appends, 1000)).items():
        print(f"| {args.db} | {mode} | {a50:.3f} / {a95:.3f} ms |")
    if args.answers_only:
        return
    tmp = Path(tempfile.mkdtemp(prefix="rm_bench_audit_"))
    url = f"sqlite:///{tmp / 'audit.db'}" if args.db == "sqlite" else _pg_url()[1]
    trail = AuditTrail(create_store_engine(url))
    times = []
    for i in range(args.appends):
        t0 = time.perf_counter()
        trail.append(kind="answer", actor="RM001", ref=str(i), payload=PAYLOAD)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p50, p95 = statistics.median(times), times[int(len(times) * 0.95)]
    trail.close()
    # A fresh chain for the verify figure.
    url2 = f"sqlite:///{tmp / 'audit_big.db'}" if args.db == "sqlite" else _pg_url()[1]
    AuditTrail(create_store_engine(url2)).close()
    load = bulk_load(url2, args.rows)
    big = AuditTrail(create_store_engine(url2), migrate=False)
    t0 = time.perf_counter()
    report = big.verify()
    verify_s = time.perf_counter() - t0
    big.close()
    print(f"| {args.db} | append p50 / p95 | {p50:.3f} / {p95:.3f} ms | verify {report.rows:,} rows | "
          f"{verify_s:.1f} s (ok={report.ok}) | bulk load {load:.1f} s |")  # fmt: skip


if __name__ == "__main__":
    main()
