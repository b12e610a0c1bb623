"""Errors raised by every CRM adapter. Messages are Simplified Chinese, safe to show to a user."""

from __future__ import annotations


class CRMError(Exception):
    """Base class: callers catch this one to show `str(exc)` to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class AccessDenied(CRMError):
    """The actor exists but the bank's scope rules forbid this read or write."""


class NotFound(CRMError):
    """The client, staff member or record does not exist."""


class InvalidInput(CRMError):
    """The request is malformed (empty, too long, bad date, unsupported characters, ...)."""


class UnknownStaff(CRMError):
    """The acting staff code is not registered (or was removed)."""


__all__ = ["AccessDenied", "CRMError", "InvalidInput", "NotFound", "UnknownStaff"]
