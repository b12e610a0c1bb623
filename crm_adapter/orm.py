"""SQLAlchemy 2.0 typed ORM tables of the CRM.

The application creates and changes them with its one Alembic tree (`bot.migrations`, whose metadata
gathers `Base.metadata`; `alembic check` in the tests proves both agree). `create_tables` is for the CRM
used on its own (its tests, benches): the missing tables straight from this metadata.
"""

from __future__ import annotations

import logging
import zlib
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

logger = logging.getLogger(__name__)

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


def CString(length: int) -> String:
    """Byte-order collation on PostgreSQL, so `col >= :prefix AND col < :next` range scans (prefix search
    on Chinese names and pinyin) use the B-tree and mean what they say, whatever the database locale."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on both databases: stored as UTC, returned aware (UTC).

    SQLite has no time zones, so values are normalised to UTC before storing and tagged on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to UTCDateTime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class StaffRow(Base):
    __tablename__ = "crm_staff"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(16))
    team: Mapped[str | None] = mapped_column(String(32))
    telegram_id: Mapped[int | None] = mapped_column(BigInteger)
    # Removed staff stay as rows (soft delete) so historic contact records keep their author.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("telegram_id", name="uq_crm_staff_telegram_id"),
        Index("ix_crm_staff_team", "team"),
    )


class ClientRow(Base):
    __tablename__ = "crm_clients"

    client_id: Mapped[str] = mapped_column(CString(32), primary_key=True)
    name: Mapped[str] = mapped_column(CString(200))
    name_pinyin: Mapped[str] = mapped_column(CString(400))
    name_initials: Mapped[str] = mapped_column(CString(200))
    gender: Mapped[str | None] = mapped_column(String(4))
    birthday: Mapped[date | None] = mapped_column(Date)
    # month * 100 + day, so "birthdays in the next N days" is an indexed IN (...) lookup.
    birth_mmdd: Mapped[int | None] = mapped_column(Integer)
    phone: Mapped[str | None] = mapped_column(String(20))
    phone_tail: Mapped[str | None] = mapped_column(String(4))
    # AUM in fen (1/100 yuan): exact on both databases, unlike SQLite's floating NUMERIC.
    aum_fen: Mapped[int] = mapped_column(BigInteger)
    tier: Mapped[str] = mapped_column(String(8))
    risk_level: Mapped[str] = mapped_column(String(2))
    preferences: Mapped[str] = mapped_column(Text, default="", server_default="")
    family: Mapped[str] = mapped_column(Text, default="", server_default="")
    notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    rm_code: Mapped[str] = mapped_column(ForeignKey("crm_staff.code"))
    kyc_review_due: Mapped[date | None] = mapped_column(Date)
    aml_risk: Mapped[str] = mapped_column(String(2), default="低", server_default="低")
    pep: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    risk_assessed_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        # Scoped search (an RM's few hundred clients among 100k): the RM's slice of each key column.
        Index("ix_crm_clients_rm_code_name", "rm_code", "name", "client_id"),
        Index("ix_crm_clients_rm_code_pinyin", "rm_code", "name_pinyin", "client_id"),
        Index("ix_crm_clients_rm_code_initials", "rm_code", "name_initials", "client_id"),
        # (column, client_id): search orders by both, so LIMIT stops early without a sort.
        Index("ix_crm_clients_name", "name", "client_id"),
        Index("ix_crm_clients_name_pinyin", "name_pinyin", "client_id"),
        Index("ix_crm_clients_name_initials", "name_initials", "client_id"),
        Index("ix_crm_clients_phone_tail", "phone_tail", "client_id"),
        Index("ix_crm_clients_birth_mmdd", "birth_mmdd"),
        Index("ix_crm_clients_kyc_review_due", "kyc_review_due"),
    )


class ClientTermRow(Base):
    """Every short substring of a client's name: substring search as an index lookup."""

    __tablename__ = "crm_client_terms"

    term: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(
        CString(32), ForeignKey("crm_clients.client_id", ondelete="CASCADE"), primary_key=True
    )

    __table_args__ = (Index("ix_crm_client_terms_client_id", "client_id"),)


class ContactRow(Base):
    __tablename__ = "crm_contacts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(CString(32), ForeignKey("crm_clients.client_id"))
    rm_code: Mapped[str] = mapped_column(ForeignKey("crm_staff.code"))
    channel: Mapped[str] = mapped_column(String(8))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    summary: Mapped[str] = mapped_column(Text)
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    next_follow_up: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    # `crm_adapter.contacts.fingerprint`: one record per content and day (NULL on rows before 0002).
    content_fingerprint: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_crm_contacts_idempotency_key"),
        Index("uq_crm_contacts_content_fingerprint", "content_fingerprint", unique=True),
        Index("ix_crm_contacts_client_occurred", "client_id", "occurred_at"),
        Index("ix_crm_contacts_rm_occurred", "rm_code", "occurred_at"),
        Index("ix_crm_contacts_occurred", "occurred_at"),
    )


class BenefitUseRow(Base):
    """The benefit ledger: one row per use of a counted entitlement (issue #21)."""

    __tablename__ = "crm_benefit_uses"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(CString(32), ForeignKey("crm_clients.client_id"))
    benefit: Mapped[str] = mapped_column(String(64))
    used_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    contact_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("crm_contacts.id"))
    recorded_by: Mapped[str] = mapped_column(ForeignKey("crm_staff.code"))
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    # `crm_adapter.benefits.fingerprint`: one row per client, benefit, day and note.
    fingerprint: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_crm_benefit_uses_idempotency_key"),
        UniqueConstraint("fingerprint", name="uq_crm_benefit_uses_fingerprint"),
        # A client's uses of the year, per benefit, newest first: one index range.
        Index("ix_crm_benefit_uses_client_used_on", "client_id", "used_on"),
    )


class ProductRow(Base):
    """The product catalogue (R1–R5), upserted by code from `crm import-products`."""

    __tablename__ = "crm_products"

    code: Mapped[str] = mapped_column(CString(32), primary_key=True)
    name: Mapped[str] = mapped_column(CString(100))
    name_pinyin: Mapped[str] = mapped_column(CString(400))
    name_initials: Mapped[str] = mapped_column(CString(100))
    type: Mapped[str] = mapped_column(String(20))
    risk_level: Mapped[str] = mapped_column(String(2))
    issuer: Mapped[str] = mapped_column(String(100), default="", server_default="")
    status: Mapped[str] = mapped_column(String(8), default="在售", server_default="在售")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_crm_products_name", "name"),
        Index("ix_crm_products_name_pinyin", "name_pinyin"),
        Index("ix_crm_products_name_initials", "name_initials"),
    )


class AccessLogRow(Base):
    """Who read which client's data, when, through which operation (and denied attempts)."""

    __tablename__ = "crm_access_log"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    allowed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_crm_access_log_client_at", "client_id", "at"),
        Index("ix_crm_access_log_actor_at", "actor", "at"),
    )


def create_tables(engine: Engine) -> None:
    """Create the CRM tables missing in `engine`'s database (no migrations: a CRM used on its own).

    Processes starting at once on PostgreSQL queue on an advisory lock (SQLite: ``BEGIN IMMEDIATE``)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CREATE_LOCK_KEY})
        Base.metadata.create_all(connection)


# Stable across processes (hash() is salted per process).
_CREATE_LOCK_KEY = zlib.crc32(b"rm-assistant:crm_adapter.create_tables")

__all__ = [
    "AccessLogRow",
    "Base",
    "BenefitUseRow",
    "ClientRow",
    "ClientTermRow",
    "ContactRow",
    "ProductRow",
    "StaffRow",
    "UTCDateTime",
    "create_tables",
]
