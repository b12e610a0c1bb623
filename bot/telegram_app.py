"""The Telegram bot: the one place that wires the python-telegram-bot Application.

Handlers are thin (parse → `bot.services.Assistant` → `bot.render`), run the blocking service calls in
worker threads, and let `ServiceError` bubble up to the error handler, which shows its Chinese message.
Conversation state (a half-finished /log) is persisted with PicklePersistence under RM_DATA_DIR.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from datetime import time as dtime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    LinkPreviewOptions,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    BaseUpdateProcessor,
    CallbackContext,
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

from bot import render
from bot.services import (
    Assistant,
    KnowledgeService,
    LogDraft,
    ServiceError,
    channel_choices,
    parse_channel,
)
from crm_adapter import Channel, CRMAdapter, Role, Staff

if TYPE_CHECKING:
    from bot.convlog import ConversationLog
    from bot.settings import Settings

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: States of the guided /log conversation.
CLIENT, CHANNEL, SUMMARY, FOLLOW_UP, CONFIRM = range(5)
#: An unknown user is told "not registered" at most once per this many seconds.
REFUSAL_INTERVAL = 3600.0
#: Commands shown in Telegram's menu (Chinese descriptions).
COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "开始使用"),
    ("help", "使用说明"),
    ("client", "查看客户卡片：/client 姓名或拼音"),
    ("log", "记录客户联系"),
    ("today", "今日待回访与本周生日"),
    ("review", "团队复盘（主管）"),
    ("unanswered", "未能回答的问题（主管/培训师）"),
    ("stats", "使用统计（主管）"),
    ("kb", "查看检索原文（培训师）"),
    ("cancel", "取消当前操作"),
)
#: The default menu (everyone, including strangers): only what anyone may try.
DEFAULT_MENU: tuple[str, ...] = ("start", "help")
#: Each role's private-chat menu: the commands `bot.services` lets that role use (document upload is not
#: a command). RMs ask questions in plain text; supervisors read their team's clients but write no
#: contacts; trainers see no clients.
ROLE_MENUS: dict[Role, tuple[str, ...]] = {
    Role.RM: ("help", "client", "log", "today", "cancel"),
    Role.SUPERVISOR: ("help", "client", "review", "unanswered", "stats", "cancel"),
    Role.TRAINER: ("help", "kb", "unanswered", "stats", "cancel"),
    Role.ADMIN: tuple(name for name, _ in COMMANDS),
}


def menu_for(role: Role | None) -> tuple[tuple[str, str], ...]:
    """The (command, Chinese description) pairs of a role's menu, in COMMANDS order; None → default."""
    names = set(DEFAULT_MENU if role is None else ROLE_MENUS.get(role, DEFAULT_MENU))
    return tuple((name, desc) for name, desc in COMMANDS if name in names)


_CONFIRM_WORDS = {"确认", "确定", "是", "好", "对", "ok", "y", "yes", "保存"}
_SKIP_WORDS = ("跳过", "不设置")


class BotData:
    """`context.bot_data`: the services of this Application (never persisted)."""

    def __init__(self) -> None:
        self.assistant: Assistant | None = None
        self.log: ConversationLog | None = None
        self.refused: dict[int, float] = {}  # unknown Telegram user → last refusal (monotonic)
        self.upload_dir: Path = Path("uploads")
        # Private chat id → the role whose menu was set (or tried) there in this process; None = the
        # stranger's menu (after a staff member was removed).
        self.menus: dict[int, Role | None] = {}

    @property
    def service(self) -> Assistant:
        if self.assistant is None:
            raise RuntimeError("services not initialised (post_init has not run)")
        return self.assistant


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]
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


# --- small helpers ------------------------------------------------------------------------------
async def _run(func: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """Run a blocking service call in a worker thread so the event loop keeps serving other chats."""
    return await asyncio.to_thread(func, *args, **kwargs)


def _markup(keyboard: render.Keyboard | None) -> InlineKeyboardMarkup | None:
    if not keyboard:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in keyboard]
    )


def _choices(options: list[str], *, columns: int = 3) -> ReplyKeyboardMarkup:
    rows = [[KeyboardButton(o) for o in options[i : i + columns]] for i in range(0, len(options), columns)]
    return ReplyKeyboardMarkup(rows, one_time_keyboard=True, resize_keyboard=True)


async def _say(
    update: Update,
    context: Context,
    text: str,
    markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None = None,
) -> None:
    """Send HTML text to the update's chat, split to Telegram's limit; the markup goes on the last part."""
    chat = update.effective_chat
    if chat is None:
        return
    parts = render.split_html(text) or [" "]
    for i, part in enumerate(parts):
        await context.bot.send_message(
            chat_id=chat.id, text=part, reply_markup=markup if i == len(parts) - 1 else None
        )


async def _staff_for(service: Assistant, telegram_id: int) -> Staff | None:
    """`service.staff_for_telegram`, without a worker-thread hop when the answer is cached."""
    cached, staff = service.cached_staff(telegram_id)
    if cached:
        return staff
    return await _run(service.staff_for_telegram, telegram_id)


async def _staff(update: Update, context: Context) -> Staff:
    user = update.effective_user
    staff = await _staff_for(context.bot_data.service, user.id) if user else None
    if staff is None:  # the gate lets only staff through; this is a race with `staff remove`
        raise ServiceError("您的账号尚未登记，请联系管理员。")
    return staff


def _private(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == ChatType.PRIVATE


def _text(update: Update) -> str:
    message = update.effective_message
    return (message.text or "") if message else ""


def _args(context: Context) -> list[str]:
    return list(context.args or [])


async def _set_menu(bot: ExtBot[None], staff: Staff | None, chat_id: int) -> bool:
    """Show `staff` their role's command menu in their private chat (None: the stranger's menu, for someone
    no longer registered); never raises (the menu is a nicety)."""
    commands = [BotCommand(name, desc) for name, desc in menu_for(None if staff is None else staff.role)]
    who = f"chat {chat_id}" if staff is None else staff.code
    try:
        await bot.set_my_commands(commands, scope=BotCommandScopeChat(chat_id=chat_id))
    except TelegramError as exc:
        logger.warning("could not set the command menu of %s: %s", who, exc)
        return False
    except Exception:
        logger.warning("could not set the command menu of %s", who, exc_info=True)
        return False
    return True


# --- access gate (group -1) -------------------------------------------------------------------
async def gate(update: Update, context: Context) -> None:
    """Drop redelivered updates and anyone who is not registered staff."""
    data = context.bot_data
    if data.log is not None and not await _run(
        data.log.claim_update, channel="telegram", update_id=update.update_id
    ):
        logger.info("update %s already handled; ignoring the redelivery", update.update_id)
        raise ApplicationHandlerStop
    user = update.effective_user
    if user is None:
        raise ApplicationHandlerStop
    staff = await _staff_for(data.service, user.id)
    if staff is not None:
        # First time in this process, or their role changed: give them their role's menu.
        if user.id not in data.menus or data.menus[user.id] is not staff.role:
            data.menus[user.id] = staff.role
            context.application.create_task(_set_menu(context.bot, staff, user.id), update=update)
        return
    if data.menus.get(user.id) is not None:  # staff removed while the bot runs: take their menu away
        data.menus[user.id] = None
        context.application.create_task(_set_menu(context.bot, None, user.id), update=update)
    logger.info("refusing unregistered Telegram user %s", user.id)
    now = time.monotonic()
    last = data.refused.get(user.id)
    if (last is None or now - last >= REFUSAL_INTERVAL) and update.effective_chat is not None:
        if len(data.refused) > 10_000:  # forget old refusals so strangers cannot grow this forever
            data.refused = {k: t for k, t in data.refused.items() if now - t < REFUSAL_INTERVAL}
        data.refused[user.id] = now
        if update.callback_query is not None:
            await update.callback_query.answer()
        await context.bot.send_message(chat_id=update.effective_chat.id, text=render.refusal_unregistered())
    raise ApplicationHandlerStop


# --- general commands ----------------------------------------------------------------------------
async def start(update: Update, context: Context) -> None:
    """Greet the staff member."""
    await _say(update, context, render.start(await _staff(update, context)))


async def help_command(update: Update, context: Context) -> None:
    """Show what this staff member can do."""
    await _say(update, context, render.help_text(await _staff(update, context)))


async def cancel(update: Update, context: Context) -> int:
    """Abandon the current /log flow."""
    if context.user_data is not None:
        context.user_data.pop("log_draft", None)
    await _say(update, context, render.cancelled(), ReplyKeyboardRemove())
    return ConversationHandler.END


async def ask(update: Update, context: Context) -> None:
    """Answer a plain-text question from the knowledge base."""
    staff = await _staff(update, context)
    chat = update.effective_chat
    result = await _run(
        context.bot_data.service.ask,
        staff,
        _text(update),
        channel="telegram",
        chat_id=chat.id if chat else None,
        update_id=update.update_id,
    )
    reply = render.answer(result)
    await _say(update, context, reply.text, _markup(reply.keyboard))


async def feedback(update: Update, context: Context) -> None:
    """Store a 👍/👎 pressed under an answer."""
    query = update.callback_query
    assert query is not None and query.data is not None
    _, value, exchange_id = query.data.split(":")
    staff = await _staff(update, context)
    try:
        await _run(context.bot_data.service.feedback, staff, int(exchange_id), value)
    except ServiceError as exc:
        await query.answer(exc.message, show_alert=True)
        return
    await query.answer(render.feedback_ack(value))
    try:  # drop the buttons so the choice is visible and final
        await query.edit_message_reply_markup(reply_markup=None)
    except TelegramError as exc:
        logger.debug("could not remove feedback buttons: %s", exc)


# --- clients -----------------------------------------------------------------------------------
async def _refuse_in_group(update: Update, context: Context) -> bool:
    if _private(update):
        return False
    if update.callback_query is not None:
        await update.callback_query.answer()
    await _say(update, context, render.group_refusal())
    return True


async def client(update: Update, context: Context) -> None:
    """Find a client by name, pinyin or id and show the card (or a pick list)."""
    if await _refuse_in_group(update, context):
        return
    staff = await _staff(update, context)
    service = context.bot_data.service
    matches = await _run(service.find_clients, staff, " ".join(_args(context)))
    if len(matches) == 1:
        view = await _run(service.client_view, staff, matches[0].client_id)
        await _say(update, context, render.client_card(view))
        return
    reply = render.client_matches(matches)
    await _say(update, context, reply.text, _markup(reply.keyboard))


async def client_pick(update: Update, context: Context) -> None:
    """Show the card of the client picked from a list."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if await _refuse_in_group(update, context):
        return
    await query.answer()
    staff = await _staff(update, context)
    view = await _run(context.bot_data.service.client_view, staff, query.data.split(":", 1)[1])
    await _say(update, context, render.client_card(view))


# --- /log ----------------------------------------------------------------------------------------
def _idempotency_key(update: Update) -> str:
    chat = update.effective_chat
    return f"telegram:{chat.id if chat else 0}:{update.update_id}"


async def _save(update: Update, context: Context, staff: Staff, draft: LogDraft, key: str) -> None:
    result = await _run(
        context.bot_data.service.log_contact, staff, draft, source="telegram", idempotency_key=key
    )
    await _say(update, context, render.log_saved(result), ReplyKeyboardRemove())


def _draft(context: Context) -> dict[str, object]:
    assert context.user_data is not None
    draft = context.user_data.setdefault("log_draft", {})
    assert isinstance(draft, dict)
    return draft


async def log(update: Update, context: Context) -> int:
    """Record a client contact: the one-line form, or start the guided flow."""
    if await _refuse_in_group(update, context):
        return ConversationHandler.END
    staff = await _staff(update, context)
    service = context.bot_data.service
    args = _args(context)
    if args:
        draft = await _run(service.parse_log_line, staff, " ".join(args))
        key = _idempotency_key(update)
        if draft.client is None:  # ambiguous: remember the draft, let the RM pick
            assert context.user_data is not None
            context.user_data["log_pending"] = {"draft": draft.to_state(), "key": key}
            reply = render.log_pick(draft.candidates)
            await _say(update, context, reply.text, _markup(reply.keyboard))
            return ConversationHandler.END
        await _save(update, context, staff, draft, key)
        return ConversationHandler.END
    assert context.user_data is not None
    context.user_data["log_draft"] = {}
    await _say(update, context, "请输入客户姓名、拼音或客户号（/cancel 取消）：", ReplyKeyboardRemove())
    return CLIENT


async def log_pick(update: Update, context: Context) -> None:
    """Finish a one-line /log after the RM picked the client."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if await _refuse_in_group(update, context):
        return
    await query.answer()
    assert context.user_data is not None
    pending = context.user_data.get("log_pending")
    client_id = query.data.split(":", 1)[1]
    if not isinstance(pending, dict) or client_id not in pending["draft"].get("candidates", ()):
        raise ServiceError("这条待确认的记录已失效，请重新发送 /log。")
    staff = await _staff(update, context)
    state = dict(pending["draft"], client_id=client_id)
    draft = await _run(context.bot_data.service.draft_from_state, staff, state)
    await _save(update, context, staff, draft, pending["key"])
    context.user_data.pop("log_pending", None)
    try:
        await query.edit_message_reply_markup(reply_markup=None)
    except TelegramError as exc:
        logger.debug("could not remove pick buttons: %s", exc)


async def log_client(update: Update, context: Context) -> int:
    """Take the client of a guided /log."""
    staff = await _staff(update, context)
    draft = await _run(context.bot_data.service.resolve_client, staff, _text(update))
    if draft.client is None:
        options = [f"{c.name} ({c.client_id})" for c in draft.candidates]
        await _say(update, context, "找到多位客户，请选择：", _choices(options, columns=1))
        return CLIENT
    _draft(context)["client_id"] = draft.client.client_id
    await _say(
        update,
        context,
        f"客户：<b>{render.esc(draft.client.name)}</b>（{render.esc(draft.client.client_id)}）\n"
        + render.channel_prompt(),
        _choices([c.value for c in Channel]),
    )
    return CHANNEL


async def log_channel(update: Update, context: Context) -> int:
    """Take the channel of a guided /log."""
    channel = parse_channel(_text(update))
    if channel is None:
        await _say(
            update, context, f"请从以下渠道中选择：{channel_choices()}", _choices([c.value for c in Channel])
        )
        return CHANNEL
    _draft(context)["channel"] = channel.value
    await _say(update, context, "请输入沟通摘要（例如：客户关注海外配置）：", ReplyKeyboardRemove())
    return SUMMARY


async def log_summary(update: Update, context: Context) -> int:
    """Take the summary of a guided /log."""
    summary = " ".join(_text(update).split())
    if not summary:
        await _say(update, context, "摘要不能为空，请输入沟通摘要：")
        return SUMMARY
    _draft(context)["summary"] = summary
    await _say(
        update,
        context,
        "下次跟进日期？可写 2026-12-15、12-15、明天、下周一；不需要请点“跳过”。",
        _choices(["明天", "下周一", "跳过"]),
    )
    return FOLLOW_UP


async def log_follow_up(update: Update, context: Context) -> int:
    """Take the next follow-up date of a guided /log, then ask to confirm."""
    service = context.bot_data.service
    text = _text(update).strip()
    follow = None if text in _SKIP_WORDS else await _run(service.parse_follow_up, text)
    state = _draft(context)
    state["next_follow_up"] = follow.isoformat() if follow else None
    staff = await _staff(update, context)
    draft = await _run(service.draft_from_state, staff, state)
    await _say(update, context, render.log_draft(draft), _choices(["确认", "取消"], columns=2))
    return CONFIRM


async def log_confirm(update: Update, context: Context) -> int:
    """Save the guided /log when confirmed."""
    if _text(update).strip().lower() not in _CONFIRM_WORDS:
        return await cancel(update, context)
    staff = await _staff(update, context)
    draft = await _run(context.bot_data.service.draft_from_state, staff, _draft(context))
    await _save(update, context, staff, draft, _idempotency_key(update))
    assert context.user_data is not None
    context.user_data.pop("log_draft", None)
    return ConversationHandler.END


# --- daily work and supervision ------------------------------------------------------------
async def today(update: Update, context: Context) -> None:
    """List follow-ups due or overdue and birthdays this week."""
    if await _refuse_in_group(update, context):
        return
    staff = await _staff(update, context)
    view = await _run(context.bot_data.service.today_view, staff)
    await _say(update, context, render.today(view))


async def review(update: Update, context: Context) -> None:
    """Show the team's recent exchanges and contact records, flagged first."""
    if await _refuse_in_group(update, context):
        return
    staff = await _staff(update, context)
    service = context.bot_data.service
    view = await _run(service.review, staff, _args(context))
    await _say(update, context, render.review(view, tz=service.tz))


async def unanswered(update: Update, context: Context) -> None:
    """List questions the knowledge base could not answer."""
    staff = await _staff(update, context)
    service = context.bot_data.service
    view = await _run(service.unanswered, staff)
    await _say(update, context, render.unanswered(view, tz=service.tz))


async def stats(update: Update, context: Context) -> None:
    """Show usage figures."""
    staff = await _staff(update, context)
    view = await _run(context.bot_data.service.stats, staff, _args(context))
    await _say(update, context, render.stats(view))


async def kb(update: Update, context: Context) -> None:
    """Show raw retrieval hits with scores and sources."""
    staff = await _staff(update, context)
    query = " ".join(_args(context))
    hits = await _run(context.bot_data.service.kb_search, staff, query)
    await _say(update, context, render.kb_hits(query, hits))


_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]+")


async def document(update: Update, context: Context) -> None:
    """Ingest an uploaded document into the knowledge base (trainers and admins)."""
    message = update.effective_message
    assert message is not None and message.document is not None
    staff = await _staff(update, context)
    service = context.bot_data.service
    name = (
        _SAFE_NAME.sub("_", Path(message.document.file_name or "document.txt").name).strip("._") or "document"
    )
    await _run(service.check_ingest, staff, name)
    upload_dir = context.bot_data.upload_dir
    upload_dir.mkdir(parents=True, exist_ok=True)
    path = upload_dir / name
    await _say(update, context, f"正在把《{render.esc(name)}》加入知识库…")
    file = await message.document.get_file()
    await file.download_to_drive(path)
    report = await _run(service.ingest_document, staff, path)
    await _say(update, context, render.ingest_report(name, report))


# --- digest, errors, lifecycle ------------------------------------------------------------------
async def morning_digest(context: Context) -> None:
    """Send each RM the day's follow-ups and birthdays."""
    service = context.bot_data.service
    for staff in await _run(service.digest_recipients):
        try:
            view = await _run(service.today_view, staff)
            assert staff.telegram_id is not None
            for part in render.split_html(render.digest(view)):
                await context.bot.send_message(chat_id=staff.telegram_id, text=part)
        except Forbidden:
            logger.info("digest: %s has not started a chat with the bot", staff.code)
        except Exception:
            logger.exception("digest for %s failed", staff.code)


async def on_error(update: object, context: Context) -> None:
    """Log the failure and tell the user briefly; a ServiceError is shown as is."""
    error = context.error
    if isinstance(error, ServiceError):
        text = render.service_error(error.message)
    else:
        logger.error("error while handling update %s", getattr(update, "update_id", update), exc_info=error)
        text = render.error_text()
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if update.callback_query is not None:
        # Stop the button's spinner, unless the handler already answered the query.
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer()
    try:
        await context.bot.send_message(chat_id=update.effective_chat.id, text=text)
    except Exception:  # never let the error handler raise
        logger.exception("could not tell the user about the error")


def _log_conversation() -> ConversationHandler[Context]:
    text = filters.TEXT & ~filters.COMMAND
    return ConversationHandler(
        entry_points=[CommandHandler("log", log)],
        states={
            CLIENT: [MessageHandler(text, log_client)],
            CHANNEL: [MessageHandler(text, log_channel)],
            SUMMARY: [MessageHandler(text, log_summary)],
            FOLLOW_UP: [MessageHandler(text, log_follow_up)],
            CONFIRM: [MessageHandler(text, log_confirm)],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        allow_reentry=True,
        name="log",
        persistent=True,
    )


def add_handlers(app: App) -> None:
    """Register every handler (the gate first, in group -1)."""
    app.add_handler(TypeHandler(Update, gate), group=-1)
    app.add_handler(_log_conversation())
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("help", help_command))
    app.add_handler(CommandHandler("cancel", cancel))
    app.add_handler(CommandHandler("client", client))
    app.add_handler(CommandHandler("today", today))
    app.add_handler(CommandHandler("review", review))
    app.add_handler(CommandHandler("unanswered", unanswered))
    app.add_handler(CommandHandler("stats", stats))
    app.add_handler(CommandHandler("kb", kb))
    app.add_handler(CallbackQueryHandler(feedback, pattern=r"^fb:(up|down):\d+$"))
    app.add_handler(CallbackQueryHandler(client_pick, pattern=r"^client:"))
    app.add_handler(CallbackQueryHandler(log_pick, pattern=r"^logpick:"))
    app.add_handler(MessageHandler(filters.Document.ALL, document))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE, ask))
    app.add_error_handler(on_error)


def build_application(
    settings: Settings,
    kb: KnowledgeService,
    crm: CRMAdapter,
    log: ConversationLog | None = None,
    *,
    own_services: bool = False,
) -> App:
    """Wire the Application: API endpoints, rate limiter, persistence, handlers, digest, lifecycle.

    `log` defaults to a ConversationLog on the settings' database, created in post_init and closed in
    post_shutdown. With `own_services`, post_shutdown also closes `kb` and `crm` (the `run` command).
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
    own_log = log is None

    async def post_init(app: App) -> None:
        nonlocal log
        if log is None:
            log = await _run(_open_log, settings)
        app.bot_data.log = log
        app.bot_data.assistant = Assistant(kb=kb, crm=crm, log=log, timezone=settings.rm_timezone)
        app.bot_data.upload_dir = data_dir / "uploads"
        warm_up = getattr(kb, "warm_up", None)
        if warm_up is not None:  # load the model and indexes before the first question arrives
            await _run(warm_up)
        try:
            await app.bot.set_my_commands([BotCommand(name, desc) for name, desc in menu_for(None)])
        except TelegramError as exc:  # the menu is a nicety; the bot works without it
            logger.warning("could not register bot commands: %s", exc)
        await _set_staff_menus(app)
        if app.job_queue is not None:
            at = dtime(
                settings.rm_digest_time.hour,
                settings.rm_digest_time.minute,
                tzinfo=ZoneInfo(settings.rm_timezone),
            )
            app.job_queue.run_daily(morning_digest, time=at, name="morning_digest")
        logger.info("bot services ready (digest at %s %s)", settings.rm_digest_time, settings.rm_timezone)

    async def post_shutdown(app: App) -> None:
        app.bot_data.assistant = None
        if own_log and app.bot_data.log is not None:
            app.bot_data.log.close()
        app.bot_data.log = None
        if own_services:
            for service in (kb, crm):
                close = getattr(service, "close", None)
                if close is not None:
                    close()

    context_types = ContextTypes(bot_data=BotData)
    builder = ApplicationBuilder()
    if settings.telegram_http_backend == "aiohttp":
        from bot.telegram_http import AiohttpRequest

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
        .context_types(context_types)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    add_handlers(app)  # type: ignore[arg-type]
    return app  # type: ignore[return-value]


async def _set_staff_menus(app: App) -> None:
    """Give every staff member with a Telegram account their role's menu (failures are retried lazily)."""
    try:
        staff_list = await _run(app.bot_data.service.staff_with_telegram)
    except Exception:
        logger.warning("could not list staff for the command menus", exc_info=True)
        return
    for staff in staff_list:
        assert staff.telegram_id is not None
        if await _set_menu(app.bot, staff, staff.telegram_id):
            app.bot_data.menus[staff.telegram_id] = staff.role


def _open_log(settings: Settings) -> ConversationLog:
    from bot.convlog import ConversationLog

    return ConversationLog(settings.effective_database_url)


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
    from bot.crm_wiring import open_crm
    from bot.kb_wiring import open_knowledge_base

    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    crm = open_crm(settings)
    kb_ = open_knowledge_base(settings)
    app = build_application(settings, kb_, crm, own_services=True)
    if settings.telegram_webhook_url:
        app.run_webhook(**webhook_options(settings))
    else:
        app.run_polling(allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
