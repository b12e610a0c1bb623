"""MessageCheckService: check a message an RM is about to send to a client, before it is sent.

The text rules are the one conduct table (`knowledge/conduct_rules.toml`); on top of them this adds the
bank's data: other clients' names (`CRMAdapter.client_names()`), personal numbers (the one masker,
`crm_adapter/masking.py`) and, when the message names its client, suitability — the product's R level
against the client's C level and assessment date, by the same code as /log (`bot/features/suitability`).
Every check is recorded (masked) and audited; a check that cannot be recorded is not shown (fail closed).
"""

from __future__ import annotations

import difflib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.core import Clock, ServiceError
from bot.features import suitability
from bot.features.message_check.rewrite import Edit, rewrite
from bot.features.message_check.store import OK, REVISE, CheckStore, StoredCheck
from crm_adapter import Client, Staff
from crm_adapter.masking import mask_personal_numbers
from knowledge.conduct import ConductFinding, ConductRules, NameIndex, default_rules
from knowledge.conduct_model import ConductModel

if TYPE_CHECKING:
    from bot.features.clients import ClientService

logger = logging.getLogger(__name__)

#: Longest message checked (a chat message is at most 4096 characters).
MAX_CHARS = 4000
#: How long the client names are used before they are read from the CRM again.
NAMES_TTL_SECONDS = 60.0
_RECIPIENT = re.compile(r"^\s*(\S{2,20})\s+(\S.*)$", re.DOTALL)
_CLIENT_ID = re.compile(r"^[A-Za-z]\d{3,12}$")
_CJK_NAME = re.compile(r"^[\u4e00-\u9fff·]{2,6}$")
#: A product described by its risk words rather than its level ("一款高风险的私募产品"): the level it means.
_RISK_WORDS = re.compile(
    r"(中高|中低|高|中|低)风险(?:等级)?(?:的)?(?:产品|基金|理财|私募|信托|权益|股票|投资)"
)
_RISK_LEVEL = {"低": "R1", "中低": "R2", "中": "R3", "中高": "R4", "高": "R5"}


@dataclass(frozen=True, slots=True)
class Finding:
    """One offending span: the rule, the span, the source (document and article) and what to do."""

    rule: str
    category: str
    label: str
    text: str
    source: str
    suggestion: str
    start: int = 0
    end: int = 0
    how: str = "drop"  # the rewrite's edit (see rewrite.Edit)
    adds: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "category": self.category,
            "label": self.label,
            "text": self.text,
            "source": self.source,
            "suggestion": self.suggestion,
        }


@dataclass(frozen=True, slots=True)
class CheckResult:
    text: str
    findings: tuple[Finding, ...]
    rewrite: str | None = None  # None when the message is ok
    rewrite_findings: tuple[Finding, ...] = ()  # what the re-check of the rewrite still found
    client: Client | None = None
    stored: StoredCheck | None = field(default=None, compare=False)

    @property
    def verdict(self) -> str:
        return REVISE if self.findings else OK

    @property
    def rewrite_verdict(self) -> str | None:
        if self.rewrite is None:
            return None
        return REVISE if self.rewrite_findings else OK

    def to_dict(self) -> dict[str, object]:
        return {
            "verdict": self.verdict,
            "findings": [f.to_dict() for f in self.findings],
            "rewrite": self.rewrite,
            "rewrite_verdict": self.rewrite_verdict,
            "client": self.client.name if self.client is not None else None,
            "id": self.stored.ref if self.stored is not None else None,
        }


class MessageCheckService:
    """Check messages (pure `evaluate`, and `check`, which also resolves the client and records)."""

    def __init__(
        self,
        *,
        clock: Clock,
        rules: ConductRules | None = None,
        names: Callable[[], Iterable[str]] | None = None,
        clients: ClientService | None = None,
        catalogue: suitability.ProductCatalogue | None = None,
        store: CheckStore | None = None,
        names_ttl: float = NAMES_TTL_SECONDS,
        model: ConductModel | None = None,
    ) -> None:
        self.clock = clock
        self.rules = rules or default_rules()
        self.model = model  # the learned second opinion (knowledge/conduct_model.py); None: rules alone
        self.clients = clients
        self.catalogue = catalogue
        self.store = store
        self._names = names
        self._names_ttl = names_ttl
        self._index: NameIndex | None = None
        self._loaded_at: float | None = None
        self._lock = threading.Lock()

    # --- the check -------------------------------------------------------------------------------
    def names(self) -> NameIndex | None:
        """Known client names (re-read once a minute; a failing read keeps the previous ones)."""
        if self._names is None:
            return None
        with self._lock:
            now = time.monotonic()
            if self._loaded_at is None or now - self._loaded_at >= self._names_ttl:
                self._loaded_at = now
                try:
                    self._index = NameIndex(self._names())
                except Exception:
                    logger.warning("client names could not be loaded for the message check", exc_info=True)
            return self._index

    def evaluate(
        self, text: str, *, client: Client | None = None, recipient: str | None = None
    ) -> CheckResult:
        """Findings and a re-checked rewrite; records nothing."""
        findings = self.findings(text, client=client, recipient=recipient)
        if not findings:
            return CheckResult(text=text, findings=(), client=client)
        edits = [Edit(f.start, f.end, f.how, f.adds) for f in findings]
        fixed = rewrite(text, edits, self.rules)
        again = self.findings(fixed, client=client, recipient=recipient)
        for _ in range(2):  # what an edit left (rare): its clause goes too
            if not again:
                break
            fixed = rewrite(fixed, [Edit(f.start, f.end, "drop") for f in again], self.rules)
            again = self.findings(fixed, client=client, recipient=recipient)
        return CheckResult(text=text, findings=findings, rewrite=fixed, rewrite_findings=again, client=client)

    def findings(
        self, text: str, *, client: Client | None = None, recipient: str | None = None
    ) -> tuple[Finding, ...]:
        rules = self.rules
        name = recipient or (client.name if client is not None else None)
        found = [_from_conduct(f) for f in rules.scan(text, names=self.names(), recipient=name)]
        found += _numbers(text, rules)
        if client is not None:
            found += self._suitability(client, text)
        if self.model is not None:
            found += self._second_opinion(text, {f.category for f in found})
        return tuple(sorted(found, key=lambda f: (f.start, f.end)))

    def _second_opinion(self, text: str, found: set[str]) -> list[Finding]:
        """The model's categories that no rule found: the sentence it rates highest, cited by the
        category's article, with the category's suggestion; the rewrite drops the sentence. A flag the
        rules overrule (a sentence about no product, a match they read as negated) is dropped."""
        assert self.model is not None
        out = []
        for flag in self.model.flags(text):
            if flag.category in found or not self.rules.second_opinion_holds(
                flag.category, text, flag.start, flag.end, names=self.names()
            ):
                continue
            rule = self.rules.cited_for(flag.category)
            out.append(
                Finding(
                    f"model:{flag.category}",
                    flag.category,
                    f"{rule.label}（模型判断）",
                    text[flag.start : flag.end],
                    rule.source,
                    rule.suggestion,
                    flag.start,
                    flag.end,
                    "drop",
                    rule.adds,
                )
            )
        return out

    def _suitability(self, client: Client, text: str) -> list[Finding]:
        rule = self.rules.rule("suitability")
        out = []
        spans = _product_spans(text, self.catalogue)
        worded = [(m.start(), m.end(), _RISK_LEVEL[m.group(1)]) for m in _RISK_WORDS.finditer(text)]
        spans = sorted(spans + [(a, b) for a, b, _ in worded])
        start, end = spans[0] if spans else (0, 0)
        levels = tuple(level for _, _, level in worded)
        today = self.clock.today()
        for f in suitability.check(client, text, today, products=levels, catalogue=self.catalogue):
            tolerance = "承受能力" in f.label
            source = rule.source if tolerance else f"《{rule.document}》{f.article}：{f.rule}"
            shown = text[start:end] if end > start else "、".join(f.products)
            out.append(
                Finding(
                    rule.id,
                    rule.category,
                    f"适当性：{f.label}",
                    shown,
                    source,
                    rule.suggestion,
                    start,
                    end,
                    "drop",
                )
            )
        return out

    # --- the chat / CLI use case -------------------------------------------------------------------
    def check(self, staff: Staff, args: str, *, channel: str) -> CheckResult:
        """Check `args` ("[客户] 消息"): the first word is taken as the client when it names one of the
        staff member's clients (then suitability is checked too); the check is recorded."""
        text = args.strip()
        if not text:
            raise ServiceError("请发送要检查的消息，例如：/check 张伟 这款理财产品不保本，业绩比较基准3.2%")
        client = self._addressed(staff, text)
        if client is not None:
            m = _RECIPIENT.match(text)
            assert m is not None
            text = m.group(2).strip()
        if len(text) > MAX_CHARS:
            raise ServiceError(f"消息太长（{len(text)} 字），最多检查 {MAX_CHARS} 字。")
        result = self.evaluate(text, client=client)
        if self.store is None:
            return result
        try:
            stored = self.store.record(
                staff_code=staff.code,
                channel=channel,
                client_id=client.client_id if client is not None else None,
                text=text,
                verdict=result.verdict,
                findings=[f.to_dict() for f in result.findings],
                rewrite=result.rewrite,
                at=self.clock.utcnow(),
            )
        except Exception:  # fail closed: an unrecorded check is not shown
            logger.error("message check by %s could not be recorded", staff.code, exc_info=True)
            raise ServiceError("检查结果未能记录，请稍后重试。") from None
        return CheckResult(
            text=text,
            findings=result.findings,
            rewrite=result.rewrite,
            rewrite_findings=result.rewrite_findings,
            client=client,
            stored=stored,
        )

    def _addressed(self, staff: Staff, text: str) -> Client | None:
        m = _RECIPIENT.match(text)
        if m is None or self.clients is None:
            return None
        word = m.group(1)
        if not (_CJK_NAME.match(word) or _CLIENT_ID.match(word)):
            return None
        found = [
            c
            for c in self.clients.find(staff, word)
            if word in (c.name, c.client_id) or word.upper() == c.client_id
        ]
        if len(found) > 1:
            ids = "、".join(c.client_id for c in found)
            raise ServiceError(
                f"有 {len(found)} 位客户名为“{word}”（{ids}），"
                f"请用客户号，例如 /check {found[0].client_id} 消息"
            )
        return found[0] if found else None


def _from_conduct(f: ConductFinding) -> Finding:
    r = f.rule
    return Finding(
        r.id, r.category, r.label, f.text, r.source, r.suggestion, f.start, f.end, r.rewrite, r.adds
    )


def _numbers(text: str, rules: ConductRules) -> list[Finding]:
    """Full ID, card and phone numbers: the spans the one masker would change."""
    masked = mask_personal_numbers(text)
    if masked == text:
        return []
    rule = rules.rule("privacy_number")
    out: list[Finding] = []
    matcher = difflib.SequenceMatcher(None, text, masked, autojunk=False)
    for tag, a, b, _c, _d in matcher.get_opcodes():
        if tag == "equal":
            continue
        while a > 0 and text[a - 1].isdigit():  # widen to the whole number
            a -= 1
        while b < len(text) and text[b].isdigit():
            b += 1
        if out and a <= out[-1].end:
            continue
        out.append(
            Finding(rule.id, rule.category, rule.label, text[a:b], rule.source, rule.suggestion, a, b, "mask")
        )
    return out


def _product_spans(text: str, catalogue: suitability.ProductCatalogue | None) -> list[tuple[int, int]]:
    """Where products are named: bare levels ("R4") and catalogue names or codes."""
    spans = [(m.start(), m.end()) for m in re.finditer(r"(?<![A-Za-z0-9])[Rr]\s?[1-5](?![0-9])", text)]
    if catalogue is not None:
        for p in catalogue.mentioned(text):
            for key in (p.name, p.code):
                at = text.find(key)
                if at >= 0:
                    spans.append((at, at + len(key)))
                    break
    return sorted(spans)
