"""Benefit-ledger benchmark (issue #21): `crm benefits` and `/brief` at 100k clients, 1M contact records
and 1M benefit uses on PostgreSQL (or SQLite).

Loads clients and contacts with `bench_crm`'s loaders (COPY on PostgreSQL, driver executemany on SQLite),
then the benefit uses the same way, and measures through the real services (scopes, access-log commit,
the audit-trail append on the same database, and rendering):

* `BenefitService.sheet` (what `crm benefits` and `/used 张伟` show) — p50/p95
* `BriefService.view` + `render_brief` (what `/brief` and `crm brief` show) — p50/p95
* `SqlCRM.benefit_tallies` alone — p50/p95
* one durable access-log insert — p50/p95, the floor of every audited read on this machine's disk
* `SqlCRM.client_card` — p50/p95, the baseline of one scoped read and its durable access-log commit
  (the brief makes one CRM read and one audit append; the sheet one CRM read and one audit append)

The allowances come from the bundled entitlement table (`knowledge/corpus/03_增值服务权益.md`, parsed by
`knowledge.rules`; no embedding needed). Target: `/brief` and `crm benefits` p95 ≤ 50 ms. Figures only.

    .venv/bin/python bench/bench_benefits.py --db postgres                 # 100k / 1M / 1M
    .venv/bin/python bench/bench_benefits.py --db sqlite --clients 10000 --contacts 100000 --uses 100000
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from bench_crm import (
    DEFAULT_PG_ADMIN_URL,
    RESULTS_DIR,
    _client_dicts,
    _contact_rows,
    _database,
    _load_postgres,
    _load_sqlite,
    _percentile,
    _sqlite_ts,
    _staff,
    _timed,
)
from sqlalchemy import insert

from bot import migrations
from bot.audit import AuditTrail
from bot.convlog import create_store_engine
from bot.core import Clock
from bot.features.benefits import BenefitService, BriefService
from bot.features.benefits.brief import render_brief
from bot.features.clients import ClientService
from crm_adapter import Staff
from crm_adapter.benefits import fingerprint
from crm_adapter.orm import AccessLogRow
from crm_adapter.sql import SqlCRM
from knowledge.rules import Entitlement, TableSource, build

CORPUS = Path(__file__).resolve().parents[1] / "knowledge" / "corpus" / "03_增值服务权益.md"


class TableKB:
    """Just the entitlement table of the bundled corpus (the port's `entitlements`)."""

    def __init__(self) -> None:
        text = CORPUS.read_text(encoding="utf-8")
        self.book = build([TableSource(text, f"bundled:{CORPUS.name}", "增值服务权益", "", "")])

    def entitlements(self, tier: str) -> list[Entitlement]:
        return [e for e in self.book.entitlements if tier.removesuffix("客户") in e.tiers]


def _use_rows(
    count: int, clients: list[dict[str, Any]], benefits: list[str], rng: random.Random
) -> Iterator[dict[str, Any]]:
    now = datetime.now(UTC)
    today = now.date()
    for i in range(count):
        client = clients[rng.randrange(len(clients))]
        day = today - timedelta(days=rng.randint(0, 2 * 365))
        benefit = rng.choice(benefits)
        note = f"n{i}"
        yield {
            "client_id": client["client_id"],
            "benefit": benefit,
            "used_on": day,
            "note": note,
            "contact_id": None,
            "recorded_by": client["rm_code"],
            "source": "import",
            "created_at": now,
            "idempotency_key": None,
            "fingerprint": fingerprint(
                client_id=client["client_id"], benefit=benefit, used_on=day, note=note
            ),
        }


_USE_COLUMNS = ["client_id", "benefit", "used_on", "note", "contact_id", "recorded_by", "source",
                "created_at", "idempotency_key", "fingerprint"]  # fmt: skip


def _load_uses(crm: SqlCRM, kind: str, rows: Any) -> None:
    if kind == "postgres":
        raw = crm.engine.raw_connection()
        try:
            conn: Any = raw.driver_connection
            with (
                conn.cursor() as cur,
                cur.copy(f"COPY crm_benefit_uses ({', '.join(_USE_COLUMNS)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row([row[c] for c in _USE_COLUMNS])
            conn.commit()
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE crm_benefit_uses")
            conn.execute("CHECKPOINT")
            conn.autocommit = False
        finally:
            raw.close()
        return
    marks = ", ".join("?" * len(_USE_COLUMNS))
    sql = f"INSERT INTO crm_benefit_uses ({', '.join(_USE_COLUMNS)}) VALUES ({marks})"
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(
            tuple(
                _sqlite_ts(row[c])
                if c == "created_at"
                else (row[c].isoformat() if c == "used_on" else row[c])
                for c in _USE_COLUMNS
            )
        )
        if len(batch) == 50_000:
            with crm.engine.begin() as c:
                c.exec_driver_sql(sql, batch)
            batch = []
    with crm.engine.begin() as c:
        if batch:
            c.exec_driver_sql(sql, batch)
        c.exec_driver_sql("ANALYZE")


def _commit_once(crm: SqlCRM, actor: str, client_id: str) -> None:
    row = {
        "actor": actor,
        "client_id": client_id,
        "action": "bench",
        "allowed": True,
        "at": datetime.now(UTC),
    }
    with crm.engine.begin() as conn:
        conn.execute(insert(AccessLogRow), [row])


def _brief_once(brief: BriefService, staff: Staff, client_id: str) -> str:
    return render_brief(brief.view(staff, client_id))


def run(
    kind: str, *, n_clients: int, n_contacts: int, n_uses: int, samples: int, pg_admin_url: str
) -> dict[str, Any]:
    rng = random.Random(21)
    with _database(kind, pg_admin_url, False) as url:
        crm = SqlCRM(url, timezone="Asia/Shanghai", prepare_schema=migrations.upgrade)
        audit = AuditTrail(create_store_engine(url))
        try:
            rms = _staff(crm, max(1, n_clients // 500))
            clients = _client_dicts(n_clients, rms, rng)
            started = time.perf_counter()
            print(
                f"[{kind}] loading {n_clients} clients, {n_contacts} contacts, {n_uses} uses ...",
                file=sys.stderr,
            )
            (_load_sqlite if kind == "sqlite" else _load_postgres)(
                crm, clients, _contact_rows(n_contacts, clients, rng)
            )
            kb = TableKB()
            counted = [e.benefit for e in kb.book.entitlements if "每年" in e.value]
            _load_uses(crm, kind, _use_rows(n_uses, clients, counted, rng))
            load_seconds = time.perf_counter() - started
            print(f"[{kind}] loaded in {load_seconds:.1f}s; measuring", file=sys.stderr)
            clock = Clock("Asia/Shanghai")
            client_svc = ClientService(crm=crm, kb=kb, clock=clock)  # type: ignore[arg-type]
            benefits = BenefitService(crm=crm, clients=client_svc, clock=clock, audit=audit)
            brief = BriefService(crm=crm, benefits=benefits, clock=clock, audit=audit)
            rm = rms[len(rms) // 2]
            staff = crm.get_staff(code=rm)
            own = [crm.get_client(actor=rm, client_id=c["client_id"]) for c in clients if c["rm_code"] == rm]
            since, until = date(date.today().year, 1, 1), date(date.today().year, 12, 31)
            sheet: list[float] = []
            view: list[float] = []
            tallies: list[float] = []
            cards: list[float] = []  # the baseline: one read and its durable access-log commit
            commits: list[float] = []  # the floor: one durable access-log insert, nothing read
            for _ in range(samples):
                c = rng.choice(own)
                sheet += _timed(partial(benefits.sheet, staff, c, audit_what="benefits"), 1)
                view += _timed(partial(_brief_once, brief, staff, c.client_id), 1)
                cards += _timed(partial(crm.client_card, actor=rm, client_id=c.client_id), 1)
                commits += _timed(partial(_commit_once, crm, rm, c.client_id), 1)
                tallies += _timed(
                    partial(crm.benefit_tallies, actor=rm, client_id=c.client_id, since=since, until=until), 1
                )
        finally:
            audit.close()
            crm.close()
    return {
        "db": kind,
        "clients": n_clients,
        "contacts": n_contacts,
        "benefit_uses": n_uses,
        "load_seconds": round(load_seconds, 1),
        "samples": samples,
        "benefits_p50_ms": round(_percentile(sheet, 50), 2),
        "benefits_p95_ms": round(_percentile(sheet, 95), 2),
        "brief_p50_ms": round(_percentile(view, 50), 2),
        "brief_p95_ms": round(_percentile(view, 95), 2),
        "tallies_p50_ms": round(_percentile(tallies, 50), 2),
        "tallies_p95_ms": round(_percentile(tallies, 95), 2),
        "card_p50_ms": round(_percentile(cards, 50), 2),
        "card_p95_ms": round(_percentile(cards, 95), 2),
        "commit_p50_ms": round(_percentile(commits, 50), 2),
        "commit_p95_ms": round(_percentile(commits, 95), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--uses", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--postgres-url", default=DEFAULT_PG_ADMIN_URL)
    args = parser.parse_args(argv)
    figures = run(args.db, n_clients=args.clients, n_contacts=args.contacts, n_uses=args.uses,
                  samples=args.samples, pg_admin_url=args.postgres_url)  # fmt: skip
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"bench_benefits_{args.db}.json"
    out.write_text(json.dumps(figures, ensure_ascii=False, indent=2), encoding="utf-8")
    print(
        "| db | clients | contacts | uses | benefits p50/p95 | brief p50/p95 | tallies | card | commit p95 |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    f = figures
    sizes = f"| {f['db']} | {f['clients']} | {f['contacts']} | {f['benefit_uses']} "
    times = f"| {f['benefits_p50_ms']}/{f['benefits_p95_ms']} | {f['brief_p50_ms']}/{f['brief_p95_ms']} "
    print(f"{sizes}{times}| {f['tallies_p95_ms']} | {f['card_p95_ms']} | {f['commit_p95_ms']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
