"""Suitability check per `/log` (target ≤ 5 ms): `suitability.check` with the product catalogue.

    .venv/bin/python bench/bench_suitability.py [--products 2000] [--runs 2000]

Catalogues: the demo one (11 products) and a synthetic one of N products, both loaded from a real
SqlCRM on SQLite. Summaries: a short one naming a catalogue product, a 2,000-character one naming
none (the worst case: the whole text is scanned), and one with a bare "R5". Reports p50/p95/max per
check, and the cost of (re)loading the catalogue, which happens at most once a minute.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from functools import partial
from pathlib import Path

from bot.features import suitability
from crm_adapter.demo import ADMIN_CODE, demo_product_rows, seed_demo
from crm_adapter.sql import SqlCRM

TODAY = date(2026, 11, 28)
SUMMARIES = {
    "names a product": "在网点面谈，向客户推荐了鑫享1号私募证券投资基金，客户表示考虑",
    "2,000 chars, none": ("电话沟通理财到期事宜，客户表示会考虑，约定下次详谈。" * 80)[:2000],
    "bare R5": "向客户推荐了R5私募产品",
}


def _timings(check: Callable[[], object], runs: int) -> dict[str, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        check()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 4),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 4),
        "max_ms": round(samples[-1], 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        crm = SqlCRM(f"sqlite:///{Path(tmp) / 'crm.db'}", timezone="Asia/Shanghai")
        try:
            seed_demo(crm, clients=30, today=TODAY)
            client = crm.get_client(actor=ADMIN_CODE, client_id="C0003")
            for label, extra in (("demo", 0), (f"{args.products} products", args.products)):
                rows = demo_product_rows()[0] + [
                    {"code": f"P{i:05d}", "name": f"合成稳健理财{i}号", "type": "理财", "risk_level": "R2"}
                    for i in range(extra)
                ]
                crm.import_products(actor=ADMIN_CODE, rows=rows)
                start = time.perf_counter()
                catalogue = suitability.ProductCatalogue(crm.list_products)
                catalogue.mentioned("")  # loads the catalogue and builds its index
                load_ms = round((time.perf_counter() - start) * 1000, 2)
                per_summary = {
                    name: _timings(
                        partial(suitability.check, client, text, TODAY, catalogue=catalogue), args.runs
                    )
                    for name, text in SUMMARIES.items()
                }
                results[label] = {"catalogue_load_ms": load_ms, "check": per_summary}
        finally:
            crm.close()
    print(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
