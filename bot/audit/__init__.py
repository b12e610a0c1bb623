"""The tamper-evident audit trail (answers, client-data reads, contact records)."""

from bot.audit.trail import AuditEvent, AuditTrail, VerifyReport

__all__ = ["AuditEvent", "AuditTrail", "VerifyReport"]
