"""GapService: the trainers' knowledge-gap inbox, curated answers written from it, and knowledge usage.

The inbox takes the questions of the last `GAP_DAYS` days that went unanswered, got a weak answer or a
👎, clusters them by meaning (client data redacted first, so questions about different clients meet)
and shows the largest clusters first with their count, examples and what an RM would get now. A trainer
turns a cluster (or any exchange) into a curated answer, served once a second person approved it
(the approvals feature decides it, through `CuratedSubmissions`); `usage` counts how often curated answers and
documents served answers, and lists documents no answer used in `USAGE_DAYS` days.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from bot import roles
from bot.answer_flags import CURATED, WEAK_FLAG, is_gap
from bot.core import Clock, KnowledgeService, ServiceError, parse_record_id
from bot.features.gaps.cluster import cluster
from bot.features.gaps.curated import MAX_ANSWER_CHARS, SOURCE_PREFIX, CuratedAnswer, CuratedAnswers
from bot.features.gaps.curated_store import PENDING
from bot.features.gaps.vectors import QuestionVectors
from bot.features.supervision.store import EXCHANGE, parse_ref
from crm_adapter import Staff

if TYPE_CHECKING:
    from bot.convlog import ConversationLog
    from bot.features.privacy import ClientPrivacy
    from bot.features.supervision import SupervisionService
    from bot.features.supervision.views import Escalation

logger = logging.getLogger(__name__)

GAP_DAYS = 30
USAGE_DAYS = 90
#: Newest gap questions clustered per view.
MAX_QUESTIONS = 2000
#: Clusters shown (and whose current answer is looked up) per view.
SHOWN = 8
EXAMPLES = 3
UNANSWERED, WEAK, DOWN = "未能回答", "依据较弱", "👎"
#: `Request.state` key: the groups of the inbox page a trainer last saw, by number (`/curate 2` is the
#: second they saw), as JSON (`numbered`): Telegram persists them with user_data, so a restart keeps them.
SHOWN_KEY = "gaps_shown"
#: Questions of a group a curated answer takes (and the state keeps per group).
CURATE_QUESTIONS = 20
_SOURCE = re.compile(r"\s*(?:来源|出处|source)\s*[:：]\s*", re.IGNORECASE)


class CuratedSubmissions(Protocol):
    """The four eyes a curated answer goes through (the approvals feature provides them): submitting
    stores it pending a second person's approval; retiring needs none."""

    def submit(
        self,
        staff: Staff,
        *,
        questions: Sequence[str],
        answer: str,
        source: str | None,
        exchange_id: int | None,
    ) -> CuratedAnswer: ...

    def retire(self, staff: Staff, curated_id: int) -> CuratedAnswer: ...


@dataclass(frozen=True, slots=True)
class GapItem:
    exchange_id: int
    staff_code: str
    question: str  # as the viewer may see it
    text: str  # client data redacted: what is clustered
    signals: tuple[str, ...]
    answer: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class GapCluster:
    n: int
    items: tuple[GapItem, ...]
    current: str = ""  # what an RM asking the first example gets now
    current_kind: str = ""  # "curated" | "grounded" | "weak" | "none"
    curated_id: int | None = None
    pending_id: int | None = None  # a curated answer for it awaits approval

    @property
    def count(self) -> int:
        return len(self.items)

    @property
    def examples(self) -> tuple[str, ...]:
        """Distinct questions, most asked first."""
        return tuple(q for q, _ in Counter(i.question for i in self.items).most_common())

    @property
    def redacted_examples(self) -> tuple[str, ...]:
        return tuple(q for q, _ in Counter(i.text for i in self.items).most_common())

    @property
    def signals(self) -> dict[str, int]:
        counts: Counter[str] = Counter(s for i in self.items for s in i.signals)
        return {s: counts[s] for s in (UNANSWERED, WEAK, DOWN) if counts[s]}


@dataclass(frozen=True, slots=True)
class GapsView:
    since: date
    questions: int
    clusters: tuple[GapCluster, ...]
    escalations: tuple[Escalation, ...] = ()
    redacted: bool = False
    can_curate: bool = False
    page: int = 1
    more: int = 0  # clusters after this page (`/unanswered 2` shows the next)


@dataclass(frozen=True, slots=True)
class UsageView:
    since: date
    answers: int
    curated: tuple[tuple[CuratedAnswer, int], ...]  # every curated answer and its hits, most used first
    documents: tuple[tuple[str, str, int], ...]  # (source, title, answers citing it), most used first
    unused: tuple[tuple[str, str], ...] = field(default=())  # (source, title) cited by no answer


def split_source(text: str) -> tuple[str, str | None]:
    """ "答案 来源：产品手册" → ("答案", "产品手册")."""
    parts = _SOURCE.split(text.strip(), maxsplit=1)
    if len(parts) == 2 and parts[1].strip():
        return parts[0].strip(), parts[1].strip()
    return text.strip(), None


def _signals(flags: Sequence[str], grounded: bool, feedback: str | None) -> tuple[str, ...]:
    out = []
    if not grounded:
        out.append(UNANSWERED)
    elif WEAK_FLAG in flags:
        out.append(WEAK)
    if feedback == "down":
        out.append(DOWN)
    return tuple(out)


def numbered(clusters: Sequence[GapCluster]) -> dict[str, dict[str, Any]]:
    """What `/curate N` needs of each group shown, by number, as JSON: its questions (client data
    redacted) and its newest exchange."""
    return {
        str(c.n): {
            "questions": list(c.redacted_examples[:CURATE_QUESTIONS]),
            "exchange_id": max(i.exchange_id for i in c.items),
        }
        for c in clusters
    }


class GapService:
    """The gap inbox, curated answers and knowledge usage for trainers (and supervisors' teams)."""

    def __init__(
        self,
        *,
        log: ConversationLog,
        kb: KnowledgeService | None,
        curated: CuratedAnswers,
        privacy: ClientPrivacy,
        clock: Clock,
        supervision: SupervisionService | None = None,
        vectors: QuestionVectors | None = None,
        changes: CuratedSubmissions | None = None,
    ) -> None:
        self.log = log
        self.kb = kb
        self.curated = curated
        self.privacy = privacy
        self.clock = clock
        self.supervision = supervision
        self.vectors = vectors if vectors is not None else curated.vectors
        self.changes = changes  # four eyes: without it (tests, tools) answers are stored pending, unaudited

    # --- the inbox ------------------------------------------------------------------------------
    def gap_items(self, staff: Staff, *, days: int = GAP_DAYS) -> tuple[date, list[GapItem]]:
        since = self.clock.today() - timedelta(days=days)
        start, end = self.clock.utc_range(since, self.clock.today())
        codes = None
        if roles.team_scoped(staff) and self.supervision is not None:
            codes = self.supervision.team_codes(staff)
        heads = self.log.exchange_heads(staff_codes=codes, since=start, until=end)
        wanted = [h for h in heads if is_gap(h)][:MAX_QUESTIONS]
        full = self.log.get_many([h.id for h in wanted])
        redact_all = self.privacy.redactor()
        shown = self.privacy.for_viewer(staff)
        items = []
        for h in wanted:
            e = full.get(h.id)
            if e is None or (e.composer == CURATED and e.feedback != "down"):
                continue  # served from a curated answer: that gap is closed unless the RM disliked it
            items.append(
                GapItem(
                    exchange_id=e.id,
                    staff_code=e.staff_code,
                    question=shown(e.question),
                    text=redact_all(e.question),
                    signals=_signals(e.flags, e.grounded, e.feedback),
                    answer=shown(e.answer) if e.grounded else "",
                    created_at=e.created_at,
                )
            )
        return since, items

    def clusters(self, items: Sequence[GapItem]) -> list[list[GapItem]]:
        if not items:
            return []
        groups = cluster(self.vectors.get([i.text for i in items]))
        return [[items[i] for i in g] for g in groups]

    def inbox(self, staff: Staff, *, days: int = GAP_DAYS, page: int = 1) -> GapsView:
        """The gap clusters, largest first (those a curated answer now covers after the rest), `SHOWN`
        a page; numbers run on across pages so `/curate 12` names the twelfth."""
        since, items = self.gap_items(staff, days=days)
        groups = self.clusters(items)
        page = max(1, min(page, (len(groups) + SHOWN - 1) // SHOWN or 1))
        # What an RM gets now is asked per cluster (it decides the order): only as far as this page needs.
        found = [self._current(i + 1, g) for i, g in enumerate(groups[: (page + 1) * SHOWN])]
        found.sort(key=lambda c: (c.curated_id is not None, -c.count, c.n))
        first = (page - 1) * SHOWN
        # A cluster whose curated answer awaits approval says so, so it is not written twice.
        pending = self.curated.store.recent(statuses=(PENDING,), limit=200)
        waiting = {q: a.id for a in pending for q in a.questions}
        shown = tuple(
            GapCluster(
                n, c.items, c.current, c.current_kind, c.curated_id,
                next((waiting[q] for q in c.redacted_examples if q in waiting), None),
            )
            for n, c in enumerate(found[first : first + SHOWN], first + 1)
        )  # fmt: skip
        escalations = self.supervision.escalations(staff) if self.supervision is not None else ()
        return GapsView(
            since=since,
            questions=len(items),
            clusters=shown,
            escalations=escalations,
            redacted=roles.is_redacted(staff),
            can_curate=roles.may_curate(staff),
            page=page,
            more=max(0, len(groups) - first - len(shown)),
        )

    def _current(self, n: int, group: list[GapItem]) -> GapCluster:
        """What an RM asking the cluster's most asked question would get now."""
        question = Counter(i.text for i in group).most_common(1)[0][0]
        match = self.curated.match(question)
        if match is not None:
            c = match.curated
            return GapCluster(n, tuple(group), c.answer, "curated", c.id)
        if self.kb is None:
            return GapCluster(n, tuple(group))
        try:
            answer = self.kb.ask(question)
        except Exception:  # the inbox is still useful without it
            logger.exception("could not look up the current answer of a gap")
            return GapCluster(n, tuple(group))
        kind = "none" if not answer.grounded else "weak" if answer.weak else "grounded"
        return GapCluster(n, tuple(group), answer.answer if answer.grounded else "", kind)

    # --- curated answers ------------------------------------------------------------------------
    def curate(
        self, staff: Staff, target: str, text: str, *, shown: Mapping[str, Any] | None = None
    ) -> CuratedAnswer:
        """Store the approved answer for gap cluster `target` (its number in the inbox page last shown:
        `shown`, as `numbered` gave it; None: the first page as it is now) or exchange `target` (Q12);
        `text` may end with 来源：… naming its source."""
        answer, source = split_source(text)
        if not answer:
            raise ServiceError("请写上审定答案，例如：/curate 1 答案内容 来源：产品手册")
        if len(answer) > MAX_ANSWER_CHARS:
            raise ServiceError(f"答案太长了（{len(answer)} 字），请精简到 {MAX_ANSWER_CHARS} 字以内。")
        redact = self.privacy.redact
        ref = parse_ref(target)
        if ref is not None:
            kind, exchange_id = ref
            exchange = self.log.get(exchange_id=exchange_id) if kind == EXCHANGE else None
            if exchange is None:
                raise ServiceError(f"找不到问答 {target}。")
            questions = [redact(exchange.question)]
        elif (number := parse_record_id(target)) is not None:
            groups = shown if shown is not None else numbered(self.inbox(staff).clusters)
            try:
                chosen = groups[str(number)]
                questions = [str(q) for q in chosen["questions"]][:CURATE_QUESTIONS]
                exchange_id = int(chosen["exchange_id"])
            except (KeyError, TypeError, ValueError):  # not shown (or unreadable): never a guess
                raise ServiceError(f"没有第 {target} 组问题，请先发送 /unanswered 查看。") from None
        else:
            raise ServiceError("用法：/curate 组号或问答编号 答案内容 来源：文件名（例如 /curate 1 …）")
        if self.changes is not None:
            added = self.changes.submit(
                staff, questions=questions, answer=redact(answer), source=source, exchange_id=exchange_id
            )
        else:
            added = self.curated.add(
                questions=questions,
                answer=redact(answer),
                source=source,
                author=staff.code,
                author_name=staff.name,
                exchange_id=exchange_id,
                at=self.clock.utcnow(),
            )
        logger.info("curated answer %s submitted by %s from %s", added.change_ref, staff.code, target)
        return added

    def uncurate(self, staff: Staff, target: str) -> CuratedAnswer:
        """Stop serving curated answer `target` ("A3", "3" or "#3"), or withdraw it while pending: RMs get
        the knowledge base's answer again. Immediate: withdrawing needs no second person."""
        number = parse_record_id(target.strip().lstrip("#").upper().removeprefix("A"))
        if number is None:
            raise ServiceError("用法：/uncurate 审定答案编号（例如 /uncurate A3，编号见 /kbusage）")
        if self.changes is not None:
            retired = self.changes.retire(staff, number)
        else:
            found = self.curated.retire(number, at=self.clock.utcnow())
            if found is None:
                raise ServiceError(f"没有正在使用或待审批的审定答案 A{number}。")
            retired = found
        logger.info("curated answer %s retired by %s", retired.id, staff.code)
        return retired

    # --- usage ----------------------------------------------------------------------------------
    def usage(self, *, days: int = USAGE_DAYS) -> UsageView:
        """Hits per curated answer and per document over the last `days` days; unused documents."""
        since = self.clock.today() - timedelta(days=days)
        start, _ = self.clock.utc_range(since, self.clock.today())
        curated: Counter[int] = Counter()
        documents: Counter[str] = Counter()
        titles: dict[str, str] = {}
        answers = 0
        for e in self.log.iter_exchanges(since=start):
            answers += 1
            for source in {str(c.get("source", "")) for c in e.citations}:
                if source.startswith(SOURCE_PREFIX):
                    if (curated_id := parse_record_id(source[len(SOURCE_PREFIX) :])) is not None:
                        curated[curated_id] += 1
                elif source:
                    documents[source] += 1
            for c in e.citations:
                titles.setdefault(str(c.get("source", "")), str(c.get("title", "")))
        listed = getattr(self.kb, "sources", None)
        known = [(s.source, s.title) for s in listed()] if callable(listed) else []
        for source, title in known:
            titles[source] = title
        all_curated = self.curated.all()
        return UsageView(
            since=since,
            answers=answers,
            curated=tuple(sorted(((c, curated[c.id]) for c in all_curated), key=lambda p: (-p[1], p[0].id))),
            documents=tuple((s, titles.get(s, s), n) for s, n in documents.most_common()),
            unused=tuple((s, t) for s, t in sorted(known, key=lambda p: p[1]) if not documents[s]),
        )
