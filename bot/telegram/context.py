"""What every Telegram handler sees: `context.bot_data` (the live services) and the context type."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from telegram.ext import CallbackContext, ExtBot

from bot.composition import Services
from crm_adapter import Role

if TYPE_CHECKING:
    from bot.telegram.inbox import Inbox

logger = logging.getLogger(__name__)


class BotData:
    """`context.bot_data`: the services of this Application (never persisted)."""

    def __init__(self) -> None:
        self._services: Services | None = None
        self.refused: dict[int, float] = {}  # unknown Telegram user → last refusal (monotonic)
        self.upload_dir: Path = Path("uploads")
        # Private chat id → the role whose menu was set (or tried) there in this process; None = the
        # stranger's menu (after a staff member was removed).
        self.menus: dict[int, Role | None] = {}
        self.inbox: Inbox | None = None  # the durable inbox (its `claim` is the gate's redelivery check)
        self.lost_leadership = False  # the standby lock was lost while serving
        self._error_replied: set[int] = set()

    def first_error_reply(self, update_id: int) -> bool:
        """True the first time an update gets an error reply (at most one per update)."""
        if update_id in self._error_replied:
            return False
        if len(self._error_replied) > 10_000:
            self._error_replied.clear()
        self._error_replied.add(update_id)
        return True

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("services not initialised (post_init has not run)")
        return self._services


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]
