"""The Telegram bot: the one place that wires the python-telegram-bot Application.

Services are created in `post_init` (through the composition root) and closed in `post_shutdown`.
Every update goes through the durable inbox (`bot.telegram.inbox`: written before Telegram gets the ack,
replayed after a crash); conversation state (a half-finished /log) is kept in the database
(`bot.telegram.persistence`), written when each update finishes. `run_bot` serves only while it holds
the standby lock (`bot.telegram.standby`: a lease on PostgreSQL); it steps down to standby when the lease
is lost and competes again.
"""

from __future__ import annotations

import asyncio
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
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest

from bot import commands
from bot.composition import Services, open_services
from bot.features.contact_log import STATES
from bot.settings import derived_webhook_secret, webhook_path
from bot.telegram import handlers
from bot.telegram.context import BotData, Context
from bot.telegram.inbox import Inbox, InboxQueue, InboxRequest
from bot.telegram.persistence import SqlPersistence
from bot.telegram.standby import FencedRequest
from bot.telegram.store import TelegramStore
from bot.telegram.webhook import WebhookUpdater

if TYPE_CHECKING:
    from bot.convlog import ConversationLog
    from bot.core import KnowledgeService
    from bot.settings import Settings
    from bot.telegram.standby import ServingLock
    from crm_adapter import CRMAdapter

logger = logging.getLogger(__name__)


App = Application[ExtBot[None], Context, dict[Any, Any], dict[Any, Any], BotData, Any]


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across chats, one at a time within a chat (keeps /log conversations ordered); marks
    each update done in the inbox once `process_update` returned (see `Inbox.finish`)."""

    def __init__(self, max_concurrent_updates: int, inbox: Inbox | None = None) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._inbox = inbox

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
                try:
                    await coroutine
                except asyncio.CancelledError:
                    raise  # shutting down mid-update: it stays pending and is replayed
                except Exception:
                    await self._finish(update)
                    raise
                await self._finish(update)
        finally:
            # Forget idle chats so the dict does not grow with every user ever seen (`_waiters` is
            # asyncio's queue of tasks waiting for the lock).
            if not lock.locked() and not getattr(lock, "_waiters", None):
                self._locks.pop(key, None)

    async def _finish(self, update: object) -> None:
        if self._inbox is not None and isinstance(update, Update):
            await self._inbox.finish(update)

    async def initialize(self) -> None:
        """Nothing to allocate."""

    async def shutdown(self) -> None:
        """Nothing to free."""


def _log_conversation() -> ConversationHandler[Context]:
    text = filters.TEXT & ~filters.COMMAND
    return ConversationHandler(
        entry_points=[CommandHandler(handlers.FLOW, handlers.log)],
        states={state: [MessageHandler(text, handlers.log_step(state))] for state in STATES},
        fallbacks=[CommandHandler("cancel", handlers.cancel)],
        allow_reentry=True,
        name=handlers.FLOW,
        persistent=True,
    )


def add_handlers(app: App) -> None:
    """Register every handler: the gate first (group -1), then the command table's rows."""
    app.add_handler(TypeHandler(Update, handlers.gate), group=-1)
    app.add_handler(_log_conversation())
    app.add_handler(CommandHandler("cancel", handlers.cancel))
    own = {"check": handlers.check}  # a bare /check takes the next message as its draft
    for row in commands.COMMANDS:
        if commands.TELEGRAM in row.frontends and row.run is not None and row.kind == "command":
            app.add_handler(CommandHandler(row.name, own.get(row.name) or handlers.command_handler(row.name)))
    app.add_handler(CallbackQueryHandler(handlers.button))
    app.add_handler(MessageHandler(filters.Document.ALL, handlers.document))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, handlers.ask))
    app.add_error_handler(handlers.on_error)


def build_application(
    settings: Settings,
    kb: KnowledgeService,
    crm: CRMAdapter,
    log: ConversationLog | None = None,
    *,
    leader: ServingLock | None = None,
) -> App:
    """Wire the Application: API endpoints, rate limiter, inbox, persistence, handlers, digest, lifecycle.

    `kb` and `crm` are borrowed (the caller closes them). The conversation log is borrowed when given;
    otherwise it is opened when PTB loads the persistence (`initialize`, just before post_init) and
    closed in post_shutdown. With `leader`, the Application stops when that lock is lost, every Bot API
    call is refused once it is (`FencedRequest`) and the inbox commit checks it (`ServingLock.fence`).
    """
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    data_dir = settings.ensure_data_dir()
    store = TelegramStore(
        settings.effective_database_url, log, fence=leader.fence if leader is not None else None
    )
    persistence = SqlPersistence(store)
    inbox = Inbox(store, persistence, max_attempts=settings.rm_inbox_max_attempts)
    queue = InboxQueue(inbox)

    watchdog: list[asyncio.Task[None]] = []

    async def post_init(app: App) -> None:
        if leader is not None:
            watchdog.append(asyncio.create_task(_watch_leader(app, leader, settings.rm_standby_poll_seconds)))
        services = await handlers.run(open_services, settings, kb=kb, crm=crm, log=store.log)
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
        await handlers.run(_refresh_knowledge, services)  # effective/expiry dates passed while down
        await inbox.prune(settings.rm_inbox_retention_days)
        await inbox.replay()  # before polling starts: unfinished updates first, in order
        if app.job_queue is not None:
            at = dtime(
                settings.rm_digest_time.hour,
                settings.rm_digest_time.minute,
                tzinfo=ZoneInfo(settings.rm_timezone),
            )
            app.job_queue.run_daily(handlers.morning_digest, time=at, name="morning_digest")
            app.job_queue.run_daily(_prune_inbox, time=dtime(3, 0), name="prune_inbox")
            midnight = dtime(0, 0, 5, tzinfo=ZoneInfo(settings.rm_timezone))  # rules change at 00:00
            app.job_queue.run_daily(_knowledge_dates, time=midnight, name="knowledge_dates")
            # The day's last audit head, kept outside the database (a rebuilt chain no longer matches it).
            anchor_at = dtime(
                settings.rm_audit_anchor_time.hour,
                settings.rm_audit_anchor_time.minute,
                tzinfo=ZoneInfo(settings.rm_timezone),
            )
            app.job_queue.run_daily(handlers.audit_anchor, time=anchor_at, name="audit_anchor")
        logger.info("bot services ready (digest at %s %s)", settings.rm_digest_time, settings.rm_timezone)

    async def _prune_inbox(context: Context) -> None:
        await inbox.prune(settings.rm_inbox_retention_days)

    async def _knowledge_dates(context: Context) -> None:
        await handlers.run(_refresh_knowledge, context.bot_data.services)

    async def post_stop(app: App) -> None:
        while watchdog:
            watchdog.pop().cancel()

    async def post_shutdown(app: App) -> None:
        await post_stop(app)
        services, app.bot_data._services = app.bot_data._services, None
        if services is not None:
            services.close()
        store.close()

    builder = ApplicationBuilder()
    calls: BaseRequest
    get_updates: BaseRequest
    if settings.telegram_http_backend == "aiohttp":
        from bot.telegram.http import AiohttpRequest

        # Replies: a few keep-alive connections serve 64 concurrent updates (a reply takes ~1 ms on a
        # near server); waiting for one is bounded by the pool timeout. getUpdates: its own connection.
        calls = AiohttpRequest(connection_pool_size=8)
        get_updates = AiohttpRequest(connection_pool_size=1)
    else:
        # httpcore scans every pooled connection per request: a small pool is cheaper than a big one.
        calls = HTTPXRequest(connection_pool_size=8, pool_timeout=10)
        get_updates = HTTPXRequest(connection_pool_size=1)
    if leader is not None:  # no Bot API call from a process that may no longer lead
        calls, get_updates = FencedRequest(calls, leader.held), FencedRequest(get_updates, leader.held)
    builder = builder.request(calls)
    # Every polled batch is written to the inbox before PTB can acknowledge it (see bot.telegram.inbox).
    builder = builder.get_updates_request(InboxRequest(get_updates, inbox))
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
        .update_queue(queue)
        .concurrent_updates(PerChatUpdateProcessor(64, inbox))
        .persistence(persistence)
        .context_types(ContextTypes(bot_data=BotData))
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
        .build()
    )
    # The webhook server checks path, secret and size before it reads a body (bot.telegram.webhook).
    app.updater = WebhookUpdater(bot=app.bot, update_queue=app.update_queue)
    inbox.attach(app, queue)
    app.bot_data.inbox = inbox
    add_handlers(app)  # type: ignore[arg-type]
    return app  # type: ignore[return-value]


def _refresh_knowledge(services: Services) -> None:
    """Publish approved knowledge changes whose effective date has come; withdraw expired ones."""
    try:
        for change in services.approvals.refresh():
            logger.info("knowledge change %s is now %s", change.ref, change.status)
    except Exception:  # the bot keeps serving; the next run (or restart) tries again
        logger.error("knowledge effective/expiry refresh failed", exc_info=True)


async def _watch_leader(app: App, leader: ServingLock, interval: float) -> None:
    """Stop serving as soon as the standby lock is no longer held (another process may take over);
    `held` is cheap (no I/O), so it is asked on the event loop."""
    while True:
        await asyncio.sleep(interval)
        if not leader.held():
            logger.critical("lost the leader lease: stopping so that only one process serves")
            app.bot_data.lost_leadership = True
            app.stop_running()
            return


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


def webhook_secret(settings: Settings, token: str) -> str:
    if settings.telegram_webhook_secret is not None:
        return settings.telegram_webhook_secret.get_secret_value()
    return derived_webhook_secret(token)


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


def run_bot(settings: Settings, *, kb: KnowledgeService | None = None, crm: CRMAdapter | None = None) -> None:
    """Run the bot until SIGINT/SIGTERM: long polling, or a webhook when TELEGRAM_WEBHOOK_URL is set.

    The services are opened first (the knowledge base warm, the conversation log migrated), then the
    process waits for the standby lock (PostgreSQL: while another process serves; SQLite: fails if
    another process serves) and serves while it holds it. A leader that loses its lease (frozen, cut off
    from the database for longer than the lease allows, or taken over) stops serving and goes back to
    waiting: it never exits for it. `kb`/`crm` given: borrowed instead of opened from the settings.
    """
    from bot.convlog import ConversationLog
    from bot.telegram.standby import serving_lock

    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    lock = serving_lock(settings)
    with open_services(settings, kb=kb, crm=crm, with_log=False) as base:
        # Opened (migrated: the lease table) before waiting, and kept across terms; each term builds a
        # fresh Application.
        log = ConversationLog(settings.effective_database_url)
        try:
            _serve(settings, base.kb, base.crm, log, lock)
        finally:
            log.close()


def _serve(
    settings: Settings, kb: KnowledgeService, crm: CRMAdapter, log: ConversationLog, lock: ServingLock | None
) -> None:
    """Serve term after term until SIGINT/SIGTERM."""
    while True:
        if lock is not None:
            lock.wait()
        app = build_application(settings, kb, crm, log, leader=lock)
        loop = asyncio.new_event_loop()  # one per term: PTB closes the loop it ran on
        asyncio.set_event_loop(loop)
        try:
            if settings.telegram_webhook_url:
                app.run_webhook(**webhook_options(settings))
            else:
                app.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
        finally:
            if not loop.is_closed():
                loop.close()
            if lock is not None:
                lock.release()
        if not app.bot_data.lost_leadership:
            return  # SIGINT/SIGTERM
        logger.warning("stepped down: waiting as the standby, competing for the lease again")
