"""The CRM port: what the bot needs from any CRM, SQL or otherwise."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, Protocol, runtime_checkable

from crm_adapter.models import (
    BenefitImportReport,
    BenefitTally,
    BenefitUse,
    BirthdayReminder,
    Client,
    ClientBrief,
    ClientCard,
    ClientImportReport,
    ContactRecord,
    FollowUp,
    KycReview,
    NewBenefitUse,
    NewContact,
    Product,
    ProductImportReport,
    RiskAssessmentDue,
    Staff,
)

#: Run by `create_contact` inside the transaction that stores a new record, with the adapter's handle of
#: that transaction (`SqlCRM`: the SQLAlchemy `Connection`) and the record: if it raises, nothing is stored
#: and the error propagates. The bot appends the record to its audit trail this way when both share a
#: database, so a record that cannot be audited is not stored (fail closed).
OnInsert = Callable[[Any, ContactRecord], object]
#: The same for `record_benefit_use`: run with the new use inside the transaction that stores it.
OnUseInsert = Callable[[Any, BenefitUse], object]


@runtime_checkable
class CRMAdapter(Protocol):
    """A CRM seen through the bank's access rules.

    `crm_adapter.sql.SqlCRM` is the bundled implementation; a REST CRM (or any other) can be plugged in
    behind this Protocol. Whoever implements it must guarantee:

    1. **Scopes are enforced inside the adapter**, by every method taking ``actor`` (a staff code), with
       the rules of `crm_adapter.scopes` (RM: own clients read/write; supervisor: team's clients,
       read-only; trainer: no client data; admin: everything). Callers never filter. Collection queries
       (search, follow-ups, birthdays, contact lists) are filtered silently; naming a target outside the
       scope raises `AccessDenied`. An unregistered or removed actor raises `UnknownStaff`.
    2. **Every read of client data is written to an access log** (actor, client id, action, time): get,
       each search result, card, contact lists, follow-ups, birthdays — and denied attempts.
    3. **`create_contact` is idempotent**: the same ``idempotency_key`` twice yields one record and
       returns it both times (also under concurrent calls, e.g. a Telegram update delivered twice); a
       key already used for another client's record is `InvalidInput`. It is also **logically
       idempotent**: the same author (actor), client, channel, summary (after masking, whitespace
       collapsed) and follow-up date on one calendar day of the adapter's time zone (the day of
       ``occurred_at``) is one record, whatever the keys, source or topics, also under concurrent calls
       (`crm_adapter.contacts.fingerprint`, a unique column in `SqlCRM`). A call that finds the record
       stored before returns that earlier record (its id, times and key) with ``duplicate=True``; a
       new record has ``duplicate=False``. The summary is stored with
       personal numbers masked (`crm_adapter.masking.mask_personal_numbers`) and the returned record
       carries the stored text, so a caller can tell the user that numbers were masked.
    4. **Writes are atomic**: a failing call leaves nothing half-written.
    5. **Return values are the frozen models of `crm_adapter.models`**, never ORM rows or raw JSON;
       datetimes are timezone-aware.
    6. **Errors are the classes of `crm_adapter.errors` only** (`AccessDenied`, `NotFound`,
       `InvalidInput`, `UnknownStaff`, all `CRMError`), with a Simplified Chinese message fit to show a
       user. Transport or database failures may propagate as they are (they are not user errors).
    7. Thread-safety: one instance may be used from several threads (the bot's handlers).
    8. **The benefit ledger** (`record_benefit_use`) follows the contact-record rules: written by the
       client's RM or an admin (`AccessDenied` otherwise), idempotent by key and logically (the same
       client, benefit, day and note is one use, `crm_adapter.benefits.fingerprint`; the earlier use
       comes back with ``duplicate=True``); reads of it are scoped and access-logged like contacts.
    9. **`remove_staff` deactivates**: refused (`InvalidInput`) while an RM still owns clients; the
       member then is `NotFound` for staff look-ups and `UnknownStaff` as an actor, their Telegram id is
       free for another member, their contact records keep their author; `add_staff` reactivates.

    `tests/crm_adapter/test_port_contract.py` checks these against every implementation in the tree.
    """

    # --- staff (operator functions: the CLI/admin, not chat users) ----------------------------
    def get_staff(self, *, code: str) -> Staff: ...

    def get_staff_by_telegram_id(self, *, telegram_id: int) -> Staff | None: ...

    def list_staff(self) -> list[Staff]: ...

    def add_staff(self, *, staff: Staff) -> Staff: ...

    def remove_staff(self, *, code: str) -> None: ...

    def team_members(self, *, actor: str) -> list[Staff]: ...

    # --- system level (no actor: used to redact text, never shown) ----------------------------
    def client_names(self) -> frozenset[str]:
        """Every client's name, so the bot can replace them with 某客户 in what trainers see.

        Not access-logged: it serves no staff member's read (nothing about a client is shown, only
        removed from texts), and it is called on every trainer view, which would flood the log with rows
        that say nothing about who looked at which client.
        """
        ...

    # --- client data (scoped, access-logged) -------------------------------------------------
    def get_client(self, *, actor: str, client_id: str) -> Client: ...

    def search_clients(self, *, actor: str, query: str, limit: int = 10) -> list[Client]: ...

    def client_card(self, *, actor: str, client_id: str, today: date | None = None) -> ClientCard: ...

    def create_contact(
        self, *, actor: str, contact: NewContact, on_insert: OnInsert | None = None
    ) -> ContactRecord:
        """See guarantee 3; `on_insert` runs for a new record only (not for a duplicate)."""
        ...

    def list_contacts(
        self,
        *,
        actor: str,
        client_id: str | None = None,
        rm_code: str | None = None,
        since: date | None = None,
        until: date | None = None,
        limit: int = 100,
    ) -> list[ContactRecord]: ...

    def follow_ups(
        self, *, actor: str, today: date | None = None, horizon_days: int = 0
    ) -> list[FollowUp]: ...

    def upcoming_birthdays(
        self, *, actor: str, days: int = 7, today: date | None = None
    ) -> list[BirthdayReminder]: ...

    def import_clients(
        self,
        *,
        actor: str,
        rows: Sequence[Mapping[str, str | None]],
        line_numbers: Sequence[int] | None = None,
    ) -> ClientImportReport: ...

    def kyc_reviews_due(
        self, *, actor: str, today: date | None = None, horizon_days: int = 30
    ) -> list[KycReview]:
        """Clients in scope whose KYC review is overdue or due within `horizon_days`, soonest first."""
        ...

    def risk_assessments_due(
        self, *, actor: str, today: date | None = None, horizon_days: int = 30, validity_months: int
    ) -> list[RiskAssessmentDue]:
        """Clients in scope never risk-assessed, or whose assessment (valid `validity_months` months, the
        caller's rule) has expired or expires within `horizon_days`: never assessed first, then by expiry
        (`crm_adapter.schedule.add_months`). Access-logged as ``risk_assessments``."""
        ...

    # --- benefit ledger (scoped, access-logged) ----------------------------------------------
    def record_benefit_use(
        self, *, actor: str, use: NewBenefitUse, on_insert: OnUseInsert | None = None
    ) -> BenefitUse:
        """Record one use of a counted entitlement (`use.benefit`: the entitlement table's name); see
        guarantee 8. `on_insert` runs for a new use only (not for a duplicate), like `create_contact`'s."""
        ...

    def benefit_uses(
        self,
        *,
        actor: str,
        client_id: str,
        since: date | None = None,
        until: date | None = None,
        limit: int = 100,
    ) -> list[BenefitUse]:
        """A client's recorded uses, newest first; dates inclusive."""
        ...

    def benefit_tallies(self, *, actor: str, client_id: str, since: date, until: date) -> list[BenefitTally]:
        """Per benefit: the uses from `since` to `until` (inclusive) and the latest day, by name."""
        ...

    def client_brief(
        self,
        *,
        actor: str,
        client_id: str,
        since: date,
        until: date,
        contacts: int = 50,
        today: date | None = None,
    ) -> ClientBrief:
        """The card, the latest `contacts` records and the benefit tallies from `since` to `until`, read
        in one transaction (one access-log entry, action ``brief``)."""
        ...

    def import_benefit_uses(
        self,
        *,
        actor: str,
        rows: Sequence[Mapping[str, str | None]],
        line_numbers: Sequence[int] | None = None,
        on_insert: OnUseInsert | None = None,
    ) -> BenefitImportReport:
        """Admin only: past uses (`client_id,benefit,used_on` + optional `note`); bad rows reported by
        line number and skipped; uses already in the ledger counted as duplicates, not stored again.
        `on_insert` runs for each new use; if it raises, nothing of the import is stored."""
        ...

    # --- product catalogue (reference data: no scopes, not access-logged) --------------------
    def import_products(
        self,
        *,
        actor: str,
        rows: Sequence[Mapping[str, str | None]],
        line_numbers: Sequence[int] | None = None,
    ) -> ProductImportReport:
        """Admin only, like `import_clients`: bad rows are reported and skipped, the others upserted by
        code (`crm_adapter.products` validates the columns)."""
        ...

    def search_products(self, *, query: str, limit: int = 10) -> list[Product]:
        """By code, name, pinyin or initials, ranked by `crm_adapter.products.rank`."""
        ...

    def list_products(self, *, status: str | None = None) -> list[Product]:
        """The catalogue (optionally one status), by risk level then code."""
        ...

    def close(self) -> None: ...


__all__ = ["CRMAdapter", "OnInsert", "OnUseInsert"]
