"""The tamper-evident audit trail (answers, client-data reads, contact records, knowledge changes)."""

from bot.audit.records import RecordKind, record_digest, record_payload
from bot.audit.trail import Anchor, AuditEvent, AuditTrail, VerifyReport

__all__ = [
    "Anchor",
    "AuditEvent",
    "AuditTrail",
    "RecordKind",
    "VerifyReport",
    "record_digest",
    "record_payload",
]
