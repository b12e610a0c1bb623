"""Questions to the knowledge base: answer, record the exchange, take 👍/👎.

Chat, the console twin and `rm-assistant ask` all go through `AskService.ask`, so every answer gets the
same compliance checks and is logged the same way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from bot import compliance
from bot.answer_flags import ANSWER_FLAG_PREFIX, CURATED, WEAK_FLAG
from bot.answer_flags import answer_is_weak as is_weak
from bot.audit.records import RECORD_HASH, RecordKind, exchange_fields, record_digest
from bot.convlog import FeedbackError, iter_all_exchanges
from bot.core import KB_UNAVAILABLE, KnowledgeService, Request, ServiceError, clean_text, parse_record_id

# The result and its renderers live apart; re-exported because importers know them from here.
from bot.features.ask_render import EXCERPT_CHARS as EXCERPT_CHARS
from bot.features.ask_render import feedback_ack, render_answer
from bot.features.ask_result import AskResult as AskResult
from bot.features.clients import client_facts, render_matches
from bot.rendering import Reply
from crm_adapter.masking import mask_personal_numbers
from knowledge.store import VectorIndexUnavailable

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from bot.audit import AuditTrail
    from bot.convlog import ConversationLog, Exchange
    from bot.features.clients import ClientService
    from bot.features.gaps.curated import CuratedAnswers, CuratedMatch
    from crm_adapter import Client, Staff
    from knowledge import Answer, ClientFacts

logger = logging.getLogger(__name__)

#: Longest question we pass on to the knowledge base (Telegram allows 4096 characters).
MAX_QUESTION_CHARS = 1000
#: Replies that only make sense inside a flow (/log's confirmation): alone they are no question.
BARE_REPLIES = frozenset(
    {"确认", "确定", "取消", "好的", "好", "是", "是的", "否", "不", "不是", "对", "嗯", "行", "可以"}
    | {"ok", "okay", "yes", "no", "y", "n"}
)
#: `Request.state` key: the question waiting for the RM to pick which of several same-named clients it
#: meant (Telegram persists it with user_data, so the pick survives a restart).
PICK_KEY = "ask_pick"
NOTHING_TO_CONFIRM = (
    "当前没有需要确认或取消的操作。记录客户联系请发送 /log；"
    "有问题请直接输入完整的问题，例如：钻石客户有哪些增值服务？"
)


class AskService:
    """Answer questions and record every exchange (thread-safe)."""

    def __init__(
        self,
        *,
        kb: KnowledgeService,
        log: ConversationLog,
        clients: ClientService | None = None,
        audit: AuditTrail | None = None,
        curated: CuratedAnswers | None = None,
        on_gap: Callable[[str], object] | None = None,
        counts: Callable[[str, Client, str], Answer | None] | None = None,
    ) -> None:
        self.kb = kb
        self.curated = curated  # trainers' approved answers, matched before the knowledge base
        self.on_gap = on_gap  # told of each question answered weakly or not at all (the gap inbox)
        # "张伟今年还能约几次专家号": counted from the benefit ledger (bot.features.benefits).
        self.counts = counts
        self.log = log
        self.audit = audit
        self.clients = clients  # resolves "张伟能…" to the RM's own client (None: no CRM, e.g. the CLI)

    def ask(
        self,
        *,
        staff_code: str,
        question: str,
        channel: str,
        chat_id: int | None = None,
        update_id: int | None = None,
        client: Client | None = None,
        facts: ClientFacts | None = None,
    ) -> AskResult:
        """Answer a question from the knowledge base and record the exchange."""
        question = " ".join(clean_text(question).split())
        if not question:
            raise ServiceError("请直接输入您的问题，例如：钻石客户有哪些增值服务？")
        if len(question) > MAX_QUESTION_CHARS:
            raise ServiceError(f"问题太长了（{len(question)} 字），请精简到 {MAX_QUESTION_CHARS} 字以内。")
        if client is not None and facts is None:
            facts = client_facts(client)
        counted = self.counts(staff_code, client, question) if self.counts and client is not None else None
        if counted is not None:
            answer = counted
        else:
            try:
                answer = self.kb.ask(question, client=facts) if facts is not None else self.kb.ask(question)
            except VectorIndexUnavailable as exc:  # fail closed: no answer from half the evidence
                logger.error("%s", exc)
                raise ServiceError(KB_UNAVAILABLE) from None
        snapshot = self.kb.snapshot_id()  # what the answer was read from (audited with it)
        # A trainer's curated answer replaces the extractive one. The KB runs first: retrieval embeds the
        # question, so the lookup finds its vector cached; a confident answer from the rule tables (which
        # never embeds) stands as it is.
        confident_rules = answer.composer in ("rules", "ledger") and answer.grounded and not is_weak(answer)
        match = None if confident_rules else self._curated_match(question)
        if match is not None:
            answer = curated_answer(question, match)
        flags = compliance.check(question)
        answer_flags = _answer_flags(answer)
        stored = (
            flags
            + tuple(ANSWER_FLAG_PREFIX + f for f in answer_flags)
            + ((WEAK_FLAG,) if is_weak(answer) else ())
        )
        audit = self.audit
        joined = audit is not None and audit.shares_database(self.log.engine)

        def audit_in_log_transaction(conn: Connection, exchange: Exchange) -> None:
            assert audit is not None
            if client is not None:
                read = _client_read(client, exchange.id)
                ref = client.client_id
                audit.append_in(conn, kind="client_read", actor=staff_code, ref=ref, payload=read)
            payload = _audit_payload(snapshot, exchange, answer, client)
            audit.append_in(conn, kind="answer", actor=staff_code, ref=str(exchange.id), payload=payload)

        if audit is not None and not joined and client is not None:  # the facts' reading, before anything
            audit.append(
                kind="client_read", actor=staff_code, ref=client.client_id, payload=_client_read(client, None)
            )

        # Fails closed: an answer that cannot be audited is neither stored nor shown. On the same database
        # the audit row commits with the exchange (one durable commit per answer instead of two).
        exchange = self.log.record(
            staff_code=staff_code,
            channel=channel,
            question=question,
            answer=answer,
            chat_id=chat_id,
            update_id=update_id,
            flags=stored,
            also=audit_in_log_transaction if joined else None,
        )
        if audit is not None and not joined:
            audit.append(
                kind="answer",
                actor=staff_code,
                ref=str(exchange.id),
                payload=_audit_payload(snapshot, exchange, answer, client),
            )
        if self.on_gap is not None and (not answer.grounded or is_weak(answer)):
            try:
                self.on_gap(exchange.question)
            except Exception:  # the inbox embeds the question later instead
                logger.exception("could not hand a gap question on")
        return AskResult(
            answer=answer,
            exchange_id=exchange.id,
            flags=flags,
            answer_flags=answer_flags,
            client=client,
            curated=match.curated if match is not None else None,
        )

    def mentioned(self, staff: Staff, question: str) -> tuple[Client, ...]:
        """The staff member's own clients the question names (see `ClientService.mentioned_clients`).

        Several are a pick list shown to the RM: it is audited first and fails closed like a card.
        """
        if self.clients is None:
            return ()
        found = self.clients.mentioned_clients(staff, question)
        if len(found) > 1 and self.audit is not None:
            self.audit.append(
                kind="client_list",
                actor=staff.code,
                ref="ask",
                payload={
                    "clients": [c.client_id for c in found],
                    "question": mask_personal_numbers(question),
                },
            )
        return found

    def _curated_match(self, question: str) -> CuratedMatch | None:
        if self.curated is None:
            return None
        try:
            return self.curated.match(question)
        except Exception:  # a broken lookup must not cost the RM the answer: the KB answers as before
            logger.exception("curated-answer lookup failed")
            return None

    def feedback(self, *, staff_code: str, exchange_id: int, value: str) -> Exchange:
        """Store 👍/👎 on one of the staff member's own exchanges."""
        try:
            return self.log.set_feedback(exchange_id=exchange_id, staff_code=staff_code, value=value)
        except FeedbackError as exc:
            raise ServiceError(str(exc)) from None


def _audit_payload(
    snapshot: str, exchange: Exchange, answer: Answer, client: Client | None
) -> dict[str, object]:
    """What an auditor needs to replay which sources an answer used (texts as stored, numbers masked)."""
    return {
        "exchange": exchange.id,
        "question": exchange.question,
        "answer": exchange.answer,
        "composer": answer.composer,
        "grounded": answer.grounded,
        "confidence": round(float(getattr(answer, "confidence", 0.0)), 4),
        "verdict": getattr(answer, "verdict", None),
        "flags": list(exchange.flags),
        "client": client.client_id if client is not None else None,
        "knowledge_snapshot": snapshot,
        "sources": [
            {
                "n": c.n,
                "source": c.source,
                "title": c.title,
                "heading": c.heading,
                "text_sha256": hashlib.sha256(c.text.encode("utf-8")).hexdigest(),
            }
            for c in answer.citations
        ],
        RECORD_HASH: record_digest(exchange_fields(exchange)),  # `audit verify` checks the live row
    }


def audited_exchanges(engine: Engine) -> RecordKind:
    """Exchanges (question, answer, sources, composer) as `audit verify` reads them back from `engine`."""

    def rows() -> Iterator[tuple[str, Mapping[str, object]]]:
        for exchange in iter_all_exchanges(engine):
            yield str(exchange.id), exchange_fields(exchange)

    return RecordKind("answer", "问答", "Q", rows)


def _client_read(client: Client, exchange_id: int | None) -> dict[str, object]:
    """The client facts an answer was given with (what the answer shows of the client)."""
    return {"what": "answer", "exchange": exchange_id, "tier": str(client.tier), "aum_band": client.aum_band}


def curated_answer(question: str, match: CuratedMatch) -> Answer:
    """A trainer's curated answer as an `Answer`: its one citation is `curated:<id>`, which the
    conversation log stores like any source (hit counts are read back from it)."""
    from knowledge import Answer, Citation

    c = match.curated
    cite = Citation(n=1, source=c.ref, title="培训师审定答案", text=c.answer, heading=c.source or "")
    return Answer(
        question=question, lead=(c.answer,), citations=(cite,), grounded=True, confidence=1.0,
        composer=CURATED,
    )  # fmt: skip


def _answer_flags(answer: Answer) -> tuple[str, ...]:
    """Compliance labels of the answer itself: the knowledge base's own check plus our rules."""
    if not answer.grounded:
        return ()
    labels = list(getattr(answer, "warnings", ()) or ())
    texts = [answer.answer] + [c.text for c in answer.citations]
    for label in compliance.check(" ".join(texts)):
        if label not in labels:
            labels.append(label)
    return tuple(labels)


# --- handlers (front-end neutral) -------------------------------------------------------------------
def ask(svc: AskService, req: Request) -> Reply:
    """Answer a plain-text question (client-aware when it names one of the RM's own clients)."""
    if is_bare_reply(req.args):  # "确认" outside /log: there is nothing to confirm, and it is no question
        return Reply(NOTHING_TO_CONFIRM)
    mentioned = svc.mentioned(req.staff, req.args)
    if len(mentioned) > 1:  # two clients called 张伟: ask which one before applying their facts
        req.state[PICK_KEY] = req.args
        return render_matches(mentioned, prefix="askc", prompt="问题中的客户是哪一位？")
    client = mentioned[0] if mentioned else None
    return _answer(svc, req, client)


def ask_about(svc: AskService, req: Request) -> Reply:
    """Answer the waiting question about the client picked from the list (button data: client id)."""
    question = req.state.pop(PICK_KEY, None)
    if not isinstance(question, str) or svc.clients is None:
        raise ServiceError("这个问题已失效，请重新提问。")
    client = svc.clients.get(req.staff, req.args)  # scoped: a tampered id is refused by the CRM
    return _answer(svc, dataclasses.replace(req, args=question), client)


def is_bare_reply(text: str) -> bool:
    """ "确认", "好的。", "OK!": a reply to a prompt, not a question."""
    word = unicodedata.normalize("NFKC", text).strip().strip("。.!！~～ ").casefold()
    return word in BARE_REPLIES


def _answer(svc: AskService, req: Request, client: Client | None) -> Reply:
    result = svc.ask(
        staff_code=req.staff.code,
        question=req.args,
        channel=req.frontend,
        chat_id=req.chat_id,
        update_id=req.update_id,
        client=client,
    )
    return render_answer(result)


def feedback(svc: AskService, req: Request) -> Reply:
    """Store a 👍/👎 given under an answer (button data `up:ID` / `down:ID`)."""
    value, _, raw_id = req.args.partition(":")
    exchange_id = parse_record_id(raw_id)
    if value not in ("up", "down") or exchange_id is None:
        raise ServiceError("无效的反馈。")
    svc.feedback(staff_code=req.staff.code, exchange_id=exchange_id, value=value)
    return Reply(feedback_ack(value))
