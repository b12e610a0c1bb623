"""Contact records: the draft being assembled and the use case that stores it in the CRM."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from bot import compliance
from bot.audit import AuditTrail
from bot.audit.records import RecordKind, append_after_save, contact_fields, table_rows
from bot.core import Clock, ServiceError, crm_call
from bot.features import suitability
from bot.features.clients import ClientService
from bot.features.contact_log.details import Details, extract
from bot.features.suitability import Finding
from bot.rendering import Reply
from crm_adapter import Channel, Client, ContactRecord, CRMAdapter, NewContact, Product, Staff
from crm_adapter.port import OnInsert

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

logger = logging.getLogger(__name__)

#: The CRM keeps at most this many topics per record (`crm_adapter.validation.MAX_TOPICS`).
MAX_TOPICS = 10


@dataclass(frozen=True, slots=True)
class LogDraft:
    """A contact record being assembled (from the one-line form or the guided flow)."""

    client: Client | None = None
    channel: Channel | None = None
    summary: str = ""
    next_follow_up: date | None = None

    @property
    def complete(self) -> bool:
        return self.client is not None and self.channel is not None and bool(self.summary)


@dataclass(frozen=True, slots=True)
class LogResult:
    record: ContactRecord
    client: Client
    flags: tuple[str, ...] = ()
    typed_summary: str = ""  # the summary as the RM wrote it (before the CRM masked numbers)
    findings: tuple[Finding, ...] = ()  # suitability findings, stored with the record
    #: Follow-up dates, amounts, products and life events read out of the summary (stored as topics).
    details: Details = field(default_factory=Details)
    #: The same contact was already stored by another message (a resend, not a redelivery of this one):
    #: `record` is that earlier record and nothing new was written.
    resent: bool = False

    @property
    def masked(self) -> bool:
        """The CRM masked personal numbers in the summary (the client record holds them)."""
        return bool(self.typed_summary) and self.record.summary != self.typed_summary


class ContactLogService:
    """Store contact records through the CRM (idempotent by key and by content) with their compliance
    check."""

    def __init__(
        self, *, crm: CRMAdapter, clients: ClientService, clock: Clock, audit: AuditTrail | None = None
    ) -> None:
        self.crm = crm
        self.audit = audit
        self.clients = clients  # resolves what the RM typed to one of their clients
        self.clock = clock
        # Catalogue products named in a summary are checked by their risk level (reloaded each minute).
        self.catalogue = suitability.ProductCatalogue(crm.list_products)
        #: While confirming a draft: the counted benefit its summary says was arranged (a line), or None.
        self.benefit_offer: Callable[[Staff, Client, str], str | None] | None = None
        #: Confirmed "with the benefit": record that use, linked to the saved record (the reply to show).
        self.record_benefit: Callable[..., Reply] | None = None

    def draft_from_state(self, staff: Staff, state: Mapping[str, object]) -> LogDraft:
        """Rebuild a persisted draft (the client is re-read through the CRM so scopes still apply)."""
        client_id = state.get("client_id")
        client = (
            crm_call(lambda: self.crm.get_client(actor=staff.code, client_id=str(client_id)))
            if client_id
            else None
        )
        channel = state.get("channel")
        follow = state.get("next_follow_up")
        return LogDraft(
            client=client,
            channel=Channel(str(channel)) if channel else None,
            summary=str(state.get("summary") or ""),
            next_follow_up=date.fromisoformat(str(follow)) if follow else None,
        )

    def _audit_hook(self, staff: Staff) -> OnInsert | None:
        """The audit append to run inside the CRM's transaction, when the trail is on the CRM's database
        (the default): a record that cannot be audited is then not stored either (fail closed)."""
        engine = getattr(self.crm, "engine", None)
        if self.audit is None or engine is None or not self.audit.shares_database(engine):
            return None
        return self.audit.record_hook(
            kind="contact", actor=staff.code, ref=lambda r: str(r.id), fields=contact_fields
        )

    def _audit_after(self, staff: Staff, record: ContactRecord) -> None:
        """Another database: appended after the save. A failure still fails the request (the usual error
        line); the record, stored without its audit row, is named by `audit verify` until a resend of
        it (a duplicate) is audited."""
        if self.audit is not None:
            append_after_save(
                self.audit,
                kind="contact",
                actor=staff.code,
                ref=str(record.id),
                fields=contact_fields(record),
            )

    def findings(self, draft: LogDraft) -> tuple[Finding, ...]:
        """Suitability findings of a draft (shown before the RM confirms)."""
        if draft.client is None or not draft.summary:
            return ()
        return suitability.check(draft.client, draft.summary, self.clock.today(), catalogue=self.catalogue)

    def details(self, draft: LogDraft) -> Details:
        """Follow-up dates, amounts, products and life events in the summary (shown, then stored)."""
        return extract(draft.summary, self.clock.today()) if draft.summary else Details()

    def pick_product(self, text: str) -> Product | None:
        """The catalogue product an RM names while confirming a draft (its code, its name, or a name or
        pinyin only one product matches); None when the text names no product."""
        query = " ".join(text.split())
        if len(query) < 2:
            return None
        try:
            found = self.crm.search_products(query=query, limit=5)
        except Exception:  # no catalogue, no pick: the draft is handled as before
            logger.warning("product lookup while confirming a /log failed", exc_info=True)
            return None
        exact = [p for p in found if query.upper() == p.code.upper() or query == p.name]
        if len(exact) == 1:
            return exact[0]
        return found[0] if len(found) == 1 else None

    def save(self, staff: Staff, draft: LogDraft, *, source: str, idempotency_key: str | None) -> LogResult:
        """Write the contact record and run the compliance check on its summary. Idempotent by key (a
        redelivered update gets its record back as if new) and by content (the CRM's logical idempotency:
        the same contact sent again the same day comes back as `LogResult.resent`)."""
        if draft.client is None or draft.channel is None or not draft.summary:
            raise ServiceError("联系记录还不完整，请补充客户、渠道和摘要。")
        summary = " ".join(draft.summary.split())
        findings = self.findings(draft)
        details = self.details(draft)
        contact = NewContact(
            topics=(*(f.topic for f in findings), *details.topics())[:MAX_TOPICS],
            client_id=draft.client.client_id,
            channel=draft.channel,
            summary=summary,
            occurred_at=self.clock.utcnow(),
            next_follow_up=draft.next_follow_up,
            source=source,
            idempotency_key=idempotency_key,
        )
        hook = self._audit_hook(staff)
        record = crm_call(lambda: self.crm.create_contact(actor=staff.code, contact=contact, on_insert=hook))
        if hook is None:
            self._audit_after(staff, record)
        return LogResult(
            record=record,
            client=draft.client,
            flags=compliance.check(summary),
            typed_summary=summary,
            findings=findings,
            details=details,
            resent=record.duplicate
            and (idempotency_key is None or record.idempotency_key != idempotency_key),
        )


def audited_contacts(engine: Engine) -> RecordKind:
    """Contact records as `audit verify` reads them back from the CRM's table on `engine`."""
    from crm_adapter.mapping import contact_model
    from crm_adapter.orm import ContactRow

    def rows() -> Iterator[tuple[str, Mapping[str, object]]]:
        for row in table_rows(engine, ContactRow.__table__):
            yield str(row.id), contact_fields(contact_model(row))

    return RecordKind("contact", "联系记录", "C", rows)
