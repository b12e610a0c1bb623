"""The Telegram bot: the one place that wires the python-telegram-bot Application.

Services are created in `post_init` (through the composition root) and closed in `post_shutdown`.
Conversation state (a half-finished /log) is persisted with PicklePersistence under RM_DATA_DIR.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable
from datetime import time as dtime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    Defaults,
    ExtBot,
    MessageHandler,
    PersistenceInput,
    PicklePersistence,
    TypeHandler,
    filters,
)

from bot import commands
from bot.composition import open_services
from bot.features.contact_log import STATES
from bot.telegram import handlers
from bot.telegram.context import BotData, Context

if TYPE_CHECKING:
    from bot.convlog import ConversationLog
    from bot.core import KnowledgeService
    from bot.settings import Settings
    from crm_adapter import CRMAdapter

logger = logging.getLogger(__name__)


App = Application[ExtBot[None], Context, dict[Any, Any], dict[Any, Any], BotData, Any]


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across chats, one at a time within a chat (keeps /log conversations ordered)."""

    def __init__(self, max_concurrent_updates: int) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = 0
        if isinstance(update, Update):
            if update.effective_chat is not None:
                key = update.effective_chat.id
            elif update.effective_user is not None:
                key = update.effective_user.id
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                await coroutine
        finally:
            # Forget idle chats so the dict does not grow with every user ever seen (`_waiters` is
            # asyncio's queue of tasks waiting for the lock).
            if not lock.locked() and not getattr(lock, "_waiters", None):
                self._locks.pop(key, None)

    async def initialize(self) -> None:
        """Nothing to allocate."""

    async def shutdown(self) -> None:
        """Nothing to free."""


def _log_conversation() -> ConversationHandler[Context]:
    text = filters.TEXT & ~filters.COMMAND
    return ConversationHandler(
        entry_points=[CommandHandler("log", handlers.log)],
        states={state: [MessageHandler(text, handlers.log_step(state))] for state in STATES},
        fallbacks=[CommandHandler("cancel", handlers.cancel)],
        allow_reentry=True,
        name="log",
        persistent=True,
    )


def add_handlers(app: App) -> None:
    """Register every handler: the gate first (group -1), then the command table's rows."""
    app.add_handler(TypeHandler(Update, handlers.gate), group=-1)
    app.add_handler(_log_conversation())
    app.add_handler(CommandHandler("cancel", handlers.cancel))
    for row in commands.COMMANDS:
        if commands.TELEGRAM in row.frontends and row.run is not None and row.kind == "command":
            app.add_handler(CommandHandler(row.name, handlers.command_handler(row.name)))
    app.add_handler(CallbackQueryHandler(handlers.button))
    app.add_handler(MessageHandler(filters.Document.ALL, handlers.document))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, handlers.ask))
    app.add_error_handler(handlers.on_error)


def build_application(
    settings: Settings,
    kb: KnowledgeService,
    crm: CRMAdapter,
    log: ConversationLog | None = None,
) -> App:
    """Wire the Application: API endpoints, rate limiter, persistence, handlers, digest, lifecycle.

    `kb` and `crm` are borrowed (the caller closes them); the conversation log is opened in post_init
    unless given, and then closed in post_shutdown.
    """
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    data_dir = settings.ensure_data_dir()
    persistence = PicklePersistence(
        filepath=data_dir / "telegram_state.pickle",
        # Only user_data (drafts) and conversations: bot_data holds live services.
        store_data=PersistenceInput(bot_data=False, chat_data=False, user_data=True, callback_data=False),
        update_interval=5,
    )

    async def post_init(app: App) -> None:
        services = await handlers.run(open_services, settings, kb=kb, crm=crm, log=log)
        app.bot_data._services = services
        app.bot_data.upload_dir = data_dir / "uploads"
        warm_up = getattr(kb, "warm_up", None)
        if warm_up is not None:  # load the model and indexes before the first question arrives
            await handlers.run(warm_up)
        try:
            await app.bot.set_my_commands([BotCommand(n, d) for n, d in commands.menu_for(None)])
        except TelegramError as exc:  # the menu is a nicety; the bot works without it
            logger.warning("could not register bot commands: %s", exc)
        await _set_staff_menus(app)
        if app.job_queue is not None:
            at = dtime(
                settings.rm_digest_time.hour,
                settings.rm_digest_time.minute,
                tzinfo=ZoneInfo(settings.rm_timezone),
            )
            app.job_queue.run_daily(handlers.morning_digest, time=at, name="morning_digest")
        logger.info("bot services ready (digest at %s %s)", settings.rm_digest_time, settings.rm_timezone)

    async def post_shutdown(app: App) -> None:
        services, app.bot_data._services = app.bot_data._services, None
        if services is not None:
            services.close()

    builder = ApplicationBuilder()
    if settings.telegram_http_backend == "aiohttp":
        from bot.telegram.http import AiohttpRequest

        # Replies: a few keep-alive connections serve 64 concurrent updates (a reply takes ~1 ms on a
        # near server); waiting for one is bounded by the pool timeout. getUpdates: its own connection.
        builder = builder.request(AiohttpRequest(connection_pool_size=8)).get_updates_request(
            AiohttpRequest(connection_pool_size=1)
        )
    else:
        # httpcore scans every pooled connection per request: a small pool is cheaper than a big one.
        builder = builder.connection_pool_size(8).pool_timeout(10)
    app = (
        builder.token(settings.telegram_bot_token.get_secret_value())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_api_base_file_url)
        .defaults(
            Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True))
        )
        .rate_limiter(
            AIORateLimiter(
                overall_max_rate=settings.telegram_max_rate,
                max_retries=settings.telegram_max_retries,
            )
        )
        .concurrent_updates(PerChatUpdateProcessor(64))
        .persistence(persistence)
        .context_types(ContextTypes(bot_data=BotData))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    add_handlers(app)  # type: ignore[arg-type]
    return app  # type: ignore[return-value]


async def _set_staff_menus(app: App) -> None:
    """Give every staff member with a Telegram account their role's menu (failures are retried lazily)."""
    try:
        staff_list = await handlers.run(app.bot_data.services.staff.with_telegram)
    except Exception:
        logger.warning("could not list staff for the command menus", exc_info=True)
        return
    for staff in staff_list:
        assert staff.telegram_id is not None
        if await handlers.set_menu(app.bot, staff, staff.telegram_id):
            app.bot_data.menus[staff.telegram_id] = staff.role


def webhook_path(token: str) -> str:
    """A secret URL path derived from the token (so the webhook URL is not guessable)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def webhook_secret(settings: Settings, token: str) -> str:
    if settings.telegram_webhook_secret is not None:
        return settings.telegram_webhook_secret.get_secret_value()
    return hashlib.sha256(b"secret:" + token.encode()).hexdigest()


def webhook_options(settings: Settings) -> dict[str, Any]:
    """Arguments of `run_webhook`/`start_webhook`: listen address, secret path and secret token."""
    assert settings.telegram_bot_token is not None and settings.telegram_webhook_url is not None
    token = settings.telegram_bot_token.get_secret_value()
    path = webhook_path(token)
    return {
        "listen": settings.telegram_webhook_listen,
        "port": settings.telegram_webhook_port,
        "url_path": path,
        "webhook_url": f"{settings.telegram_webhook_url.rstrip('/')}/{path}",
        "secret_token": webhook_secret(settings, token),
        "allowed_updates": Update.ALL_TYPES,
        "drop_pending_updates": False,
    }


def run_bot(settings: Settings) -> None:
    """Run the bot until SIGINT/SIGTERM: long polling, or a webhook when TELEGRAM_WEBHOOK_URL is set."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    with open_services(settings, with_log=False) as base:
        app = build_application(settings, base.kb, base.crm)
        if settings.telegram_webhook_url:
            app.run_webhook(**webhook_options(settings))
        else:
            app.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
