"""Precision and recall of the /log detail rules (`bot/features/contact_log/details.py`) per field, on
`bench/details_notes.jsonl`: 100 contact notes labelled by hand (follow-up dates, amounts in yuan, product
kinds, life events; "today" per note). Prints a Markdown table and the misses; figures only.

    .venv/bin/python bench/bench_details.py [--misses]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from pathlib import Path

from bot.features.contact_log.details import extract

NOTES = Path(__file__).resolve().parent / "details_notes.jsonl"
FIELDS = ("follow_ups", "amounts", "products", "events")


def _found(field: str, text: str, today: date) -> set[str]:
    d = extract(text, today)
    values: Iterable[object] = getattr(d, field)
    if field == "amounts":
        return {str(int(Decimal(str(v)))) for v in values}
    return {v.isoformat() if isinstance(v, date) else str(v) for v in values}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--misses", action="store_true", help="also list every false positive and miss")
    args = parser.parse_args(argv)
    notes = [json.loads(line) for line in NOTES.read_text(encoding="utf-8").splitlines() if line.strip()]
    print(f"{len(notes)} notes\n")
    print("| field | labelled | found | correct | precision | recall |")
    print("|---|---|---|---|---|---|")
    misses: list[str] = []
    for field in FIELDS:
        tp = fp = fn = 0
        for note in notes:
            today = date.fromisoformat(note["today"])
            want = {str(v) for v in note[field]}
            got = _found(field, note["text"], today)
            tp += len(want & got)
            fp += len(got - want)
            fn += len(want - got)
            if got != want:
                misses.append(f"{field}: {note['text']} — labelled {sorted(want)}, found {sorted(got)}")
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        print(f"| {field} | {tp + fn} | {tp + fp} | {tp} | {precision:.2f} | {recall:.2f} |")
    if args.misses:
        print("\n" + "\n".join(misses))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
