"""Lead sentences of an extractive answer (evidence selection, stage 3): which sentences beside the best one
join the lead."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from knowledge import listing
from knowledge.passages import Unit

logger = logging.getLogger(__name__)

MAX_LEAD_SENTENCES = 3
MAX_LIST_SENTENCES = 5  # a list gathered from sibling sections


def gather(
    first: tuple[float, int, int, Unit, float],
    scored: list[tuple[float, int, int, Unit, float]],
    q_tokens: list[str],
    slot_re: re.Pattern[str] | None,
    wants_list: bool,
    parents: Sequence[str] = (),
    *,
    min_focus: float,
) -> list[tuple[float, int, int, Unit, float]]:
    """The lead sentences: the best one, then near-best ones that add words, the number or the list asked
    for (from its own passage) or one item each of a list written as sibling sections."""
    lead = [first]
    covered = set(first[3].tokens)
    top_score = first[0]
    # A list question whose best sentence lists nothing: the items may be sibling sections of one
    # heading, each holding the topic ("开户反洗钱要查什么" → 身份验证 / 黑名单 / 政要 sections).
    siblings = wants_list and listing.items(first[3].text) < 3 and bool(parents) and bool(parents[first[1]])
    limit, chars, floor = (MAX_LIST_SENTENCES, 360, 0.5) if siblings else (MAX_LEAD_SENTENCES, 200, 0.7)
    for item in scored:
        score, ci, _ui, unit, focus = item
        if len(lead) >= limit or sum(len(u.text) for *_, u, _f in lead) > chars:
            break
        if score < floor * top_score:
            break
        if item is first or any(unit.text == u.text for *_, u, _f in lead) or focus < min_focus:
            continue
        new = {t for t in q_tokens if t in unit.tokens and t not in covered}
        if siblings and ci != first[1] and parents[ci] == parents[first[1]]:
            if any(c == ci for _s, c, *_ in lead):
                continue  # one sentence per section
        elif ci == first[1]:
            # A neighbour from the same passage joins when it adds words, the asked-for number or the list.
            fills = (slot_re is not None and slot_re.search(unit.text)) or (
                wants_list and listing.is_enumeration(unit.text)
            )
            if not new and not fills:
                continue
        elif score < 0.9 * top_score or not new or (siblings and score < 0.7 * top_score):
            continue  # another source must be nearly as good and add something
        lead.append(item)
        covered |= unit.tokens
    if wants_list and first[2] > 0 and _ADDS.search(first[3].text):
        # "出色的私人银行家还必须具备法律和税务方面的知识": the items before 还 are in the sentence before.
        before = next((s for s in scored if s[1] == first[1] and s[2] == first[2] - 1), None)
        if before is not None and all(before[3].text != u.text for *_, u, _f in lead):
            lead.insert(0, before)
    return lead


#: A sentence that adds to what the one before it listed (还, 也, 此外, 另外) early in its first clause.
_ADDS = re.compile(r"^(?:此外|另外|同时|[^，。；]{1,12}?[还也])")
