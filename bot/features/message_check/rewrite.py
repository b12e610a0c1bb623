"""A compliant rewrite of a checked message: offending spans replaced or removed clause by clause, the
sentences the broken rules call for and the required risk wording added; the caller re-checks it."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from crm_adapter.masking import mask_personal_numbers
from knowledge.conduct import ConductRules

logger = logging.getLogger(__name__)

_DELIMITER = re.compile(r"([，,。；;！!？?\n])")
_CONTENT = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")
#: A clause left with fewer meaningful characters than this after an edit goes altogether.
MIN_CLAUSE = 3


@dataclass(frozen=True, slots=True)
class Edit:
    """What to do with one offending span: `how` is "drop" (its clause), "remove", "mask" or a
    replacement text; `adds` a sentence to append once."""

    start: int
    end: int
    how: str
    adds: str = ""


def rewrite(text: str, edits: Sequence[Edit], rules: ConductRules) -> str:
    """The message with `edits` applied, closing with the sentences they add and, when the message is
    about a product, the required risk wording."""
    pieces = _DELIMITER.split(text)
    out: list[str] = []
    pos = 0
    used_replacements: set[str] = set()
    for i in range(0, len(pieces), 2):
        clause = pieces[i]
        delimiter = pieces[i + 1] if i + 1 < len(pieces) else ""
        start, end = pos, pos + len(clause)
        pos = end + len(delimiter)
        inside = [e for e in edits if e.start < end and e.end > start]
        if any(e.how == "drop" for e in inside):
            continue
        for e in sorted(inside, key=lambda e: -e.start):
            a, b = max(e.start, start) - start, min(e.end, end) - start
            if e.how == "remove":
                new = ""
            elif e.how == "mask":
                new = mask_personal_numbers(clause[a:b])
            else:  # a replacement text, once per message (a second promise just goes)
                new = "" if e.how in used_replacements else e.how
                used_replacements.add(e.how)
            clause = clause[:a] + new + clause[b:]
        if inside and len(_CONTENT.findall(clause)) < MIN_CLAUSE:
            continue
        if clause.strip():
            out.append(clause.strip() + delimiter)
    body = _tidy("".join(out))
    extra = list(dict.fromkeys(e.adds for e in edits if e.adds and e.adds not in body))
    if rules.promotes(text) and rules.risk_wording not in body:
        extra.append(rules.risk_wording)
    return "".join([body, *extra]).strip()


def _tidy(body: str) -> str:
    body = re.sub(r"[，,；;]+(?=[。！!？?]|$)", "", body.strip())
    body = re.sub(r"([，,；;])[，,；;]+", r"\1", body)
    body = body.lstrip("，,；;。 ")
    if body and not re.search(r"[。！!？?]$", body):
        body += "。"
    return body
