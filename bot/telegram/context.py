"""What every Telegram handler sees: `context.bot_data` (the live services) and the context type."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from telegram.ext import CallbackContext, ExtBot

from bot.composition import Services
from crm_adapter import Role

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

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("services not initialised (post_init has not run)")
        return self._services


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]
