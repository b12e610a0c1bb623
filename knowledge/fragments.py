"""Segmentation leftovers among a question's terms: the word a term stands for.

jieba cuts "贵宾区带客户" as 贵宾|区带|客户, "没做到位会被" as 做到|位会 and "不限次" as 不|限次: the middle
piece borrows a character from the word next to it. Such a piece is used by no document, and taken for the
question's subject it would make an answerable question "not stated" ("未提及：区带"). A term is read as
a leftover when a character at one of its ends joins the neighbouring characters of the question into a
word the evidence (or the documents) use: 区 + 贵宾 → 贵宾区, 限 + 不 → 不限, 私 + 行 → 私行. What is left is
the term's own word (年费免 → 年费 when 免不免 is a word), or nothing when one character is left.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from knowledge import lexical

logger = logging.getLogger(__name__)

#: Characters of the question a borrowed character may join (贵宾 + 区).
MAX_JOIN = 2
#: A word the evidence holds only as characters is taken as a word from this length (贵宾区); shorter ones
#: must also be dictionary words (不限), since any two adjacent characters of a sentence are "in" it.
MIN_SPELLED = 3


def own_word(term: str, text: str, evidence: str, known: Callable[[str], bool]) -> str:
    """`term` itself, the part of it that is a word of its own once the characters it borrowed from its
    neighbours in `text` (the question) are given back, or "" when no word of two characters is left.

    `known(word)`: the documents use the word. A join counts when the evidence holds the joined word (or
    the documents use it); for a term jieba guessed (not a dictionary word, "位会") a dictionary word is
    enough (到位)."""
    guessed = not lexical.is_word(term)

    def joins(word: str) -> bool:
        if known(word):
            return True
        if word in evidence and (len(word) >= MIN_SPELLED or lexical.is_word(word)):
            return True
        return guessed and lexical.is_word(word)

    start = text.find(term)
    while start >= 0:
        end = start + len(term)
        for k in range(1, len(term)):
            head, tail = term[:k], term[k:]
            # The head belongs to the word on the left (贵宾 + 区), the tail is what the term says.
            if any(start - m >= 0 and joins(text[start - m : start + k]) for m in range(1, MAX_JOIN + 1)):
                return tail if len(tail) > 1 else ""
            # The tail belongs to the word on the right (私 + 行), the head is what the term says.
            if any(end + m <= len(text) and joins(text[start + k : end + m]) for m in range(1, MAX_JOIN + 1)):
                return head if len(head) > 1 else ""
        start = text.find(term, start + 1)
    return term
