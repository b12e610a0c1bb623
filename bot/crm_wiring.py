"""Builds the CRM adapter from the application settings (the only place settings meet `crm_adapter`)."""

from __future__ import annotations

import logging

from bot.settings import Settings
from crm_adapter.sql import SqlCRM

logger = logging.getLogger(__name__)


def open_crm(settings: Settings) -> SqlCRM:
    """Open the CRM database named by DATABASE_URL (default: SQLite under RM_DATA_DIR), migrated."""
    if not settings.database_url:
        settings.ensure_data_dir()
    return SqlCRM(
        settings.effective_database_url,
        follow_up_cadence=settings.rm_follow_up_cadence,
        timezone=settings.rm_timezone,
    )


__all__ = ["open_crm"]
