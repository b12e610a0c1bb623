"""The benefit ledger's use cases: what a client has left of each counted entitlement this year, recording
a use (a use beyond the allowance waits for the RM's confirmation), and answering "张伟今年还能约几次专家号".

Allowances come from the knowledge base's entitlement table (through `ClientService.tier_entitlements`,
the bot's one cached extract), counts from the CRM's ledger: an answer names both as its sources.
"""

from __future__ import annotations

import itertools
import logging
import threading
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from bot.audit.records import RecordKind, append_after_save, benefit_use_fields, table_rows
from bot.core import Clock, ServiceError, crm_call
from bot.features.benefits import entitlements as ent

# The ledger's answers are built apart; LEDGER and count_answer stay importable from here.
from bot.features.benefits.counting import LEDGER, asks_count, count_answer
from bot.features.benefits.entitlements import Balance, Standing
from crm_adapter import (
    BenefitImportReport,
    BenefitTally,
    BenefitUse,
    Client,
    CRMAdapter,
    NewBenefitUse,
    Staff,
    Tier,
    scopes,
)
from crm_adapter.contacts import normalized_summary
from crm_adapter.port import OnUseInsert

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from sqlalchemy.engine import Engine

    from bot.audit import AuditTrail
    from bot.features.clients import ClientService
    from knowledge import Answer
    from knowledge.rules import Entitlement

logger = logging.getLogger(__name__)

#: The one line an RM gets when a use could not be stored with its audit row (nothing was counted).
USE_NOT_SAVED = "系统暂时不可用，权益使用未登记，请稍后重发。"


@dataclass(frozen=True, slots=True)
class BenefitSheet:
    """A client's counted entitlements for a year: allowance (table) and uses (ledger)."""

    client: Client
    year: int
    balances: tuple[Balance, ...]
    #: The tier's other rows (not counted, or not met): shown with what the table says.
    standings: tuple[Standing, ...] = ()
    #: Uses in the ledger of benefits this client's tier does not count (e.g. imported under another tier).
    other_uses: tuple[BenefitTally, ...] = ()

    def balance(self, benefit: str) -> Balance | None:
        return next((b for b in self.balances if b.entitlement.benefit == benefit), None)


@dataclass(frozen=True, slots=True)
class PreparedUse:
    """A use checked against the table and the ledger, not stored yet."""

    client: Client
    entitlement: Entitlement
    use: NewBenefitUse
    balance: Balance  # before this use
    needs_confirmation: bool  # the allowance is used up: the RM confirms or cancels


@dataclass(frozen=True, slots=True)
class UseResult:
    use: BenefitUse
    client: Client
    entitlement: Entitlement
    balance: Balance  # after this use
    resent: bool = False  # stored before by another message: nothing new was counted


@dataclass
class _Pending:
    prepared: dict[str, tuple[int, PreparedUse]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    tokens: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


class BenefitService:
    def __init__(
        self, *, crm: CRMAdapter, clients: ClientService, clock: Clock, audit: AuditTrail | None = None
    ) -> None:
        self.crm = crm
        self.clients = clients
        self.clock = clock
        self.audit = audit
        self._pending = _Pending()  # staff code → a use beyond the allowance waiting for confirmation

    # --- the entitlement table --------------------------------------------------------------------
    def table(self) -> tuple[Entitlement, ...]:
        """Every row of the entitlement table (the union of the tiers' extracts)."""
        return ent.unique_table(e for tier in Tier for e in self.clients.tier_entitlements(tier.value))

    def benefit(self, text: str) -> Entitlement:
        """The table's row a word names (专家号 → 专家挂号预约); ServiceError when none does."""
        rows = self.table()
        found = ent.exact(rows, text) or ent.mentioned(rows, text)
        if not found:
            counted = ent.counted_names(rows)
            raise ServiceError(
                f"权益表中没有“{text}”。"
                + (f"按次数计的权益：{counted}。" if counted else "知识库中暂无权益表。")
            )
        return found[0]

    def year_bounds(self, year: int) -> tuple[date, date]:
        return date(year, 1, 1), date(year, 12, 31)

    # --- reads ------------------------------------------------------------------------------------
    def sheet(
        self, staff: Staff, client: Client, *, year: int | None = None, audit_what: str = ""
    ) -> BenefitSheet:
        """The client's balances for `year` (default: this year). With `audit_what`, the read is
        appended to the audit trail first (fails closed: nothing is shown that was not recorded)."""
        year = year or self.clock.today().year
        since, until = self.year_bounds(year)
        tallies = crm_call(
            lambda: self.crm.benefit_tallies(
                actor=staff.code, client_id=client.client_id, since=since, until=until
            )
        )
        if audit_what and self.audit is not None:
            self.audit.append(
                kind="client_read", actor=staff.code, ref=client.client_id, payload={"what": audit_what}
            )
        return build_sheet(client, year, self.clients.tier_entitlements(str(client.tier)), tallies)

    def unused(self, staff: Staff, client: Client) -> list[str]:
        """Counted entitlements with no use recorded this year (for `/today` near the year's end)."""
        return [b.entitlement.benefit for b in self.sheet(staff, client).balances if b.used == 0]

    # --- recording --------------------------------------------------------------------------------
    def prepare(
        self,
        staff: Staff,
        client: Client,
        benefit: str,
        *,
        day: date | None = None,
        note: str = "",
        contact_id: int | None = None,
        source: str = "cli",
        key: str | None = None,
    ) -> PreparedUse:
        """Check a use against the table (the tier has it, it is counted) and the ledger (is any left)."""
        # The CRM enforces the write scope when storing; asked first so that a supervisor is told that,
        # not warned about the allowance of a use they could never record.
        crm_call(
            lambda: scopes.check_write_benefit(
                staff, client_id=client.client_id, client_rm_code=client.rm_code
            )
        )
        e = self.benefit(benefit)
        day = day or self.clock.today()
        if day > self.clock.today():
            raise ServiceError("权益使用日期不能晚于今天。")
        st = ent.standing(e, client)
        if not st.applies:
            raise ServiceError(
                f"未登记：{client.name}为{client.tier}客户，{st.why_not}（《{e.cite.title}》）。"
            )
        if st.allowance is None:
            raise ServiceError(f"未登记：{e.benefit}不按次数计（{e.value or '见权益说明'}），无需登记使用。")
        use = NewBenefitUse(
            client_id=client.client_id,
            benefit=e.benefit,
            used_on=day,
            note=note,
            contact_id=contact_id,
            source=source,
            idempotency_key=key,
        )
        balance = self.sheet(staff, client, year=day.year).balance(e.benefit) or Balance(
            e, st.allowance, 0, None, day.year
        )
        over = balance.used >= balance.allowance and not self._stored_before(staff, use)
        return PreparedUse(client, e, use, balance, over)

    def _stored_before(self, staff: Staff, use: NewBenefitUse) -> bool:
        """The same use is in the ledger already (a resend): it will not count again, so no warning."""
        assert use.used_on is not None
        uses = crm_call(
            lambda: self.crm.benefit_uses(
                actor=staff.code, client_id=use.client_id, since=use.used_on, until=use.used_on
            )
        )
        note = normalized_summary(use.note)
        return any(u.benefit == use.benefit and normalized_summary(u.note) == note for u in uses)

    def record(self, staff: Staff, prepared: PreparedUse) -> UseResult:
        """Store the use (once: by key and by content) with its audit row. A use that cannot be audited
        is not recorded (fail closed): the RM gets `USE_NOT_SAVED` and may resend."""
        hook = self._audit_hook(staff)
        try:
            stored = crm_call(
                lambda: self.crm.record_benefit_use(actor=staff.code, use=prepared.use, on_insert=hook)
            )
            if hook is None:
                self._audit_after(staff, stored)
        except ServiceError:
            raise
        except Exception as exc:
            logger.error("benefit use for %s not recorded", prepared.client.client_id, exc_info=True)
            raise ServiceError(USE_NOT_SAVED) from exc
        before = prepared.balance
        resent = stored.duplicate and (
            prepared.use.idempotency_key is None or stored.idempotency_key != prepared.use.idempotency_key
        )
        counted = 0 if stored.duplicate else 1
        last = max(filter(None, (before.last_used_on, stored.used_on)))
        after = Balance(before.entitlement, before.allowance, before.used + counted, last, before.year)
        if stored.duplicate and before.used == 0:  # counted before this sheet was read: re-read it
            after = (
                self.sheet(staff, prepared.client, year=before.year).balance(before.entitlement.benefit)
                or after
            )
        return UseResult(stored, prepared.client, prepared.entitlement, after, resent=resent)

    def _audit_hook(self, staff: Staff) -> OnUseInsert | None:
        """The audit append to run inside the CRM's transaction, when the trail is on the CRM's database
        (the default): a use that cannot be audited is then not stored either."""
        engine = getattr(self.crm, "engine", None)
        if self.audit is None or engine is None or not self.audit.shares_database(engine):
            return None
        return self.audit.record_hook(
            kind="benefit_use", actor=staff.code, ref=lambda u: str(u.id), fields=benefit_use_fields
        )

    def _audit_after(self, staff: Staff, use: BenefitUse) -> None:
        """Another database: appended after the save. A failure still fails the request; the use, stored
        without its audit row, is named by `audit verify` until a resend of it (a duplicate) is audited."""
        if self.audit is not None:
            append_after_save(
                self.audit,
                kind="benefit_use",
                actor=staff.code,
                ref=str(use.id),
                fields=benefit_use_fields(use),
            )

    def hold(self, staff: Staff, prepared: PreparedUse) -> int:
        """Keep a use waiting for the RM's decision; the token names it in the buttons, so a button
        of an older warning never decides a newer use."""
        with self._pending.lock:
            token = next(self._pending.tokens)
            self._pending.prepared[staff.code] = (token, prepared)
        return token

    def take(self, staff: Staff, token: int) -> PreparedUse:
        with self._pending.lock:
            found = self._pending.prepared.get(staff.code)
            if found is None or found[0] != token:
                raise ServiceError("没有待确认的这条权益登记（可能已处理或已过期），请重新发送 /used。")
            del self._pending.prepared[staff.code]
        return found[1]

    def import_uses(
        self, staff: Staff, rows: list[dict[str, str | None]], lines: list[int]
    ) -> BenefitImportReport:
        """Past uses from a file: each benefit name normalised through the table (an unknown name is
        that line's error), then the CRM imports the rest (admin only; a use already in the ledger is a
        duplicate). The client's tier is not checked: a past use may predate a change of tier. Each new
        use is audited like a recorded one (inside the import's transaction when the trail shares it)."""
        table = self.table()
        errors: list[tuple[int, str]] = []
        good_rows: list[dict[str, str | None]] = []
        good_lines: list[int] = []
        for line, row in zip(lines, rows, strict=True):
            name = (row.get("benefit") or "").strip()
            found = ent.exact(table, name) if name else []
            if name and not found:
                errors.append((line, f"权益表中没有“{name}”"))
                continue
            good_rows.append({**row, "benefit": found[0].benefit if found else name})
            good_lines.append(line)
        hook = self._audit_hook(staff)
        after: list[BenefitUse] = []
        report = crm_call(
            lambda: self.crm.import_benefit_uses(
                actor=staff.code,
                rows=good_rows,
                line_numbers=good_lines,
                on_insert=hook or (lambda _tx, use: after.append(use)),
            )
        )
        for use in after:  # a CRM elsewhere: appended after the import, a failure fails it
            self._audit_after(staff, use)
        return report.model_copy(update={"errors": tuple(sorted([*errors, *report.errors]))})

    # --- answers ----------------------------------------------------------------------------------
    def count_answer(self, staff_code: str, client: Client, question: str) -> Answer | None:
        """ "张伟今年还能约几次专家号" answered from the ledger and the table, both cited; None when the
        question asks no count of a benefit (the knowledge base answers it)."""
        if not asks_count(question):
            return None
        try:
            found = ent.mentioned(self.table(), question)
            if not found:
                return None
            e = found[0]
            st = ent.standing(e, client)
            tallies: list[BenefitTally] = []
            year = self.clock.today().year
            if st.applies and st.allowance is not None:
                since, until = self.year_bounds(year)
                tallies = self.crm.benefit_tallies(
                    actor=staff_code, client_id=client.client_id, since=since, until=until
                )
                uses = self.crm.benefit_uses(
                    actor=staff_code, client_id=client.client_id, since=since, until=until, limit=100
                )
            else:
                uses = []
        except Exception:  # the knowledge base still answers with the general rule
            logger.warning("benefit count for a question failed", exc_info=True)
            return None
        return count_answer(question, client, st, year, tallies, [u for u in uses if u.benefit == e.benefit])


def build_sheet(
    client: Client, year: int, rows: tuple[Entitlement, ...] | list[Entitlement], tallies: list[BenefitTally]
) -> BenefitSheet:
    by_name = {t.benefit: t for t in tallies}
    balances: list[Balance] = []
    others: list[Standing] = []
    for e in rows:
        st = ent.standing(e, client)
        if st.applies and st.allowance is not None:
            t = by_name.pop(e.benefit, None)
            balances.append(Balance(e, st.allowance, t.used if t else 0, t.last_used_on if t else None, year))
        else:
            others.append(st)
    return BenefitSheet(client, year, tuple(balances), tuple(others), tuple(by_name.values()))


def audited_benefit_uses(engine: Engine) -> RecordKind:
    """Benefit uses as `audit verify` reads them back from the CRM's ledger on `engine`."""
    from crm_adapter.benefits import use_model
    from crm_adapter.orm import BenefitUseRow

    def rows() -> Iterator[tuple[str, Mapping[str, object]]]:
        for row in table_rows(engine, BenefitUseRow.__table__):
            yield str(row.id), benefit_use_fields(use_model(row))

    return RecordKind("benefit_use", "权益使用", "B", rows)


__all__ = [
    "LEDGER",
    "USE_NOT_SAVED",
    "BenefitService",
    "BenefitSheet",
    "PreparedUse",
    "UseResult",
    "audited_benefit_uses",
    "build_sheet",
    "count_answer",
]
