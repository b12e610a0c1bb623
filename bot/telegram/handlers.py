"""Telegram handlers: translate updates into `Request`s for the command table and replies back.

Handlers are thin (parse → feature → render), run the blocking feature calls in worker threads, and let
`ServiceError` bubble up to `on_error`, which shows its Chinese message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatType
from telegram.error import Forbidden, TelegramError
from telegram.ext import ApplicationHandlerStop, ConversationHandler, ExtBot

from bot import commands
from bot.core import Request, ServiceError
from bot.features import contact_log, knowledge_admin
from bot.features.ask import ask as ask_feature
from bot.features.today import render_digest
from bot.rendering import (
    Reply,
    cancelled,
    error_text,
    esc,
    refusal_unregistered,
    service_error,
    split_html,
)
from bot.telegram.context import BotData, Context
from crm_adapter import Staff

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: An unknown user is told "not registered" at most once per this many seconds.
REFUSAL_INTERVAL = 3600.0
#: Where a half-finished /log lives in `context.user_data` (persisted).
DRAFT_KEY = "log_draft"


async def run(func: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """Run a blocking call in a worker thread so the event loop keeps serving other chats."""
    return await asyncio.to_thread(func, *args, **kwargs)


def _markup(reply: Reply, *, in_flow: bool = False) -> Any:
    if reply.keyboard:
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in reply.keyboard]
        )
    if reply.options:
        opts = list(reply.options)
        rows = [
            [KeyboardButton(o) for o in opts[i : i + reply.columns]]
            for i in range(0, len(opts), reply.columns)
        ]
        return ReplyKeyboardMarkup(rows, one_time_keyboard=True, resize_keyboard=True)
    return ReplyKeyboardRemove() if in_flow else None


async def say(update: Update, context: Context, reply: Reply, *, in_flow: bool = False) -> None:
    """Send a reply to the update's chat, split to Telegram's limit; the markup goes on the last part.
    A reply's image (`reply.photo`, a PNG) follows the text; failing to send it only costs the image."""
    chat = update.effective_chat
    if chat is None:
        return
    parts = split_html(reply.text) or [" "]
    markup = _markup(reply, in_flow=in_flow)
    for i, part in enumerate(parts):
        await context.bot.send_message(
            chat_id=chat.id, text=part, reply_markup=markup if i == len(parts) - 1 else None
        )
    if reply.photo:
        try:
            await context.bot.send_photo(chat_id=chat.id, photo=reply.photo)
        except TelegramError as exc:  # the text is delivered; the chart is its companion
            logger.warning("could not send the image of a reply to chat %s: %s", chat.id, exc)


async def _staff_for(data: BotData, telegram_id: int) -> Staff | None:
    """The staff lookup, without a worker-thread hop when the answer is cached."""
    directory = data.services.staff
    cached, staff = directory.cached(telegram_id)
    if cached:
        return staff
    return await run(directory.for_telegram, telegram_id)


async def request(update: Update, context: Context, args: str | None = None) -> Request:
    """The `Request` of an update from registered staff (the gate let only staff through)."""
    user = update.effective_user
    staff = await _staff_for(context.bot_data, user.id) if user else None
    if staff is None:  # a race with `staff remove`
        raise ServiceError("您的账号尚未登记，请联系管理员。")
    chat = update.effective_chat
    if args is None:
        message = update.effective_message
        args = (
            " ".join(context.args or [])
            if context.args is not None
            else (message.text or "")
            if message
            else ""
        )
    return Request(
        staff=staff,
        args=args,
        frontend="telegram",
        chat_id=chat.id if chat else None,
        update_id=update.update_id,
        private=chat is not None and chat.type == ChatType.PRIVATE,
    )


# --- command menus -------------------------------------------------------------------------------
async def set_menu(bot: ExtBot[None], staff: Staff | None, chat_id: int) -> bool:
    """Show `staff` their role's command menu in their private chat (None: the stranger's menu); never
    raises (the menu is a nicety)."""
    entries = commands.menu_for(None if staff is None else staff.role)
    who = f"chat {chat_id}" if staff is None else staff.code
    try:
        await bot.set_my_commands(
            [BotCommand(n, d) for n, d in entries], scope=BotCommandScopeChat(chat_id=chat_id)
        )
    except TelegramError as exc:
        logger.warning("could not set the command menu of %s: %s", who, exc)
        return False
    except Exception:
        logger.warning("could not set the command menu of %s", who, exc_info=True)
        return False
    return True


# --- access gate (group -1) -------------------------------------------------------------------
#: The gate could not decide (database down): nothing was done, the user is asked to resend.
GATE_UNAVAILABLE = "系统暂时不可用，您的消息未处理，请稍后重发。"
#: A /log could not be stored (the CRM or its database failed): the record was NOT saved.
LOG_NOT_SAVED = "客户系统暂时不可用，联系记录未保存，请稍后重发。"
#: The record was saved but its confirmation could not be sent: do not resend.
LOG_SAVED_REPLY_FAILED = "✅ 联系记录已保存（刚才的确认消息未能送达），无需重发。"


async def gate(update: Update, context: Context) -> None:
    """Drop redelivered updates and anyone who is not registered staff; fail closed on any error."""
    try:
        await _admit(update, context)
    except ApplicationHandlerStop:
        raise
    except Exception:
        # Fail closed: no handler runs. One short reply (at most one per update) so nobody waits.
        logger.error("access gate failed on update %s; dropping it", update.update_id, exc_info=True)
        await notify(update, context, LOG_NOT_SAVED if _in_log(update, context) else GATE_UNAVAILABLE)
        raise ApplicationHandlerStop from None


def _in_log(update: Update, context: Context) -> bool:
    """The update is a /log or an answer inside the /log flow."""
    message = update.effective_message
    text = (message.text or "") if message is not None else ""
    return text.startswith("/log") or DRAFT_KEY in (context.user_data or {})


async def _admit(update: Update, context: Context) -> None:
    data = context.bot_data
    if data.inbox is not None and not await data.inbox.claim(update):
        raise ApplicationHandlerStop  # handled before: a redelivery
    user = update.effective_user
    if user is None:
        raise ApplicationHandlerStop
    staff = await _staff_for(data, user.id)
    if staff is not None:
        # First time in this process, or their role changed: give them their role's menu.
        if user.id not in data.menus or data.menus[user.id] is not staff.role:
            data.menus[user.id] = staff.role
            context.application.create_task(set_menu(context.bot, staff, user.id), update=update)
        return
    if data.menus.get(user.id) is not None:  # staff removed while the bot runs: take their menu away
        data.menus[user.id] = None
        context.application.create_task(set_menu(context.bot, None, user.id), update=update)
    logger.info("refusing unregistered Telegram user %s", user.id)
    now = time.monotonic()
    last = data.refused.get(user.id)
    if (last is None or now - last >= REFUSAL_INTERVAL) and update.effective_chat is not None:
        if len(data.refused) > 10_000:  # forget old refusals so strangers cannot grow this forever
            data.refused = {k: t for k, t in data.refused.items() if now - t < REFUSAL_INTERVAL}
        data.refused[user.id] = now
        if update.callback_query is not None:
            await update.callback_query.answer()
        await context.bot.send_message(chat_id=update.effective_chat.id, text=refusal_unregistered())
    raise ApplicationHandlerStop


async def notify(update: Update, context: Context, text: str) -> None:
    """Send the one error notice of an update (a second one is skipped); never raises."""
    chat = update.effective_chat
    if chat is None or not context.bot_data.first_error_reply(update.update_id):
        return
    if update.callback_query is not None:
        # Stop the button's spinner, unless the handler already answered the query.
        with contextlib.suppress(Exception):
            await update.callback_query.answer()
    try:
        await context.bot.send_message(chat_id=chat.id, text=text)
    except Exception:  # the notice is best effort: the failure is already logged
        logger.warning("could not send the error notice for update %s", update.update_id, exc_info=True)


# --- the command table's handlers ----------------------------------------------------------------
def command_handler(name: str) -> Callable[[Update, Context], Any]:
    """A PTB callback running table row `name`."""

    async def handle(update: Update, context: Context) -> None:
        req = await request(update, context)
        await say(update, context, await run(commands.run_command, context.bot_data.services, name, req))

    handle.__name__ = handle.__qualname__ = name
    handle.__doc__ = f"Run /{name} through the command table."
    return handle


async def button(update: Update, context: Context) -> None:
    """Run an inline button's handler from the table and drop the buttons once it succeeded."""
    query = update.callback_query
    assert query is not None and query.data is not None
    req = await request(update, context, args="")
    feedback = query.data.startswith("fb:")
    try:
        reply = await run(commands.run_callback, context.bot_data.services, query.data, req)
    except ServiceError as exc:
        if not feedback:
            raise  # shown in the chat by on_error
        await query.answer(exc.message, show_alert=True)
        return
    if feedback:  # a toast, and the buttons go so the choice is final
        await query.answer(reply.text)
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(reply_markup=None)
        return
    await query.answer()
    await say(update, context, reply)


async def ask(update: Update, context: Context) -> None:
    """Answer a plain-text question from the knowledge base."""
    req = await request(update, context)
    await say(update, context, await run(ask_feature, context.bot_data.services.ask, req))


async def document(update: Update, context: Context) -> None:
    """Ingest an uploaded document into the knowledge base (trainers and admins)."""
    message = update.effective_message
    assert message is not None and message.document is not None
    req = await request(update, context, args="")
    commands.check(commands.command("document"), req)
    admin = context.bot_data.services.knowledge
    name = admin.safe_name(message.document.file_name or "document.txt")
    admin.check_file(name)
    upload_dir = context.bot_data.upload_dir
    upload_dir.mkdir(parents=True, exist_ok=True)
    path = Path(upload_dir) / name
    await say(update, context, Reply(f"正在把《{esc(name)}》加入知识库…"))
    file = await message.document.get_file()
    await file.download_to_drive(path)
    report = await run(admin.ingest, path)
    await say(update, context, Reply(knowledge_admin.render_ingest(name, report)))


# --- /log: the shared flow definition driven by a ConversationHandler ------------------------
def _draft(context: Context) -> dict[str, object]:
    assert context.user_data is not None
    draft = context.user_data.get(DRAFT_KEY)
    return draft if isinstance(draft, dict) else {}


def _saved(step: contact_log.Step) -> bool:
    """The step stored a contact record (the flow ends either by saving or by a cancel)."""
    return step.state is None and not (len(step.replies) == 1 and step.replies[0].text == cancelled())


async def _advance(update: Update, context: Context, compute: Callable[[], Any]) -> int:
    """Run one step of the flow, send its replies, then keep its state.

    A ServiceError (bad input, no access) leaves the state as it was and is shown as is. Any other
    failure while computing the step (CRM or database down) means nothing was saved: the user is told so
    and may resend the same message. When the replies of a step that saved a record cannot be sent,
    the record stays saved and the user is told that instead (one notice; the flow ends).
    """
    try:
        step: contact_log.Step = await run(compute)
    except ServiceError:
        raise
    except Exception as exc:
        logger.error("/log step failed on update %s", update.update_id, exc_info=True)
        raise ServiceError(LOG_NOT_SAVED) from exc
    assert context.user_data is not None
    saved = _saved(step)
    try:
        for reply in step.replies:
            await say(update, context, reply, in_flow=True)
    except Exception:
        if not saved:
            raise  # the state is unchanged: resending the message repeats the step
        logger.warning(
            "update %s: contact record saved, its confirmation not sent", update.update_id, exc_info=True
        )
        context.user_data.pop(DRAFT_KEY, None)
        await notify(update, context, LOG_SAVED_REPLY_FAILED)
        return ConversationHandler.END
    if step.state is None:
        context.user_data.pop(DRAFT_KEY, None)
        return ConversationHandler.END
    context.user_data[DRAFT_KEY] = step.draft
    return step.state


async def log(update: Update, context: Context) -> int:
    """Record a client contact: the one-line form, or start the guided flow."""
    req = await request(update, context)
    commands.check(commands.command("log"), req)
    contacts = context.bot_data.services.contacts
    return await _advance(update, context, lambda: contact_log.start(contacts, req))


def log_step(state: int) -> Callable[[Update, Context], Any]:
    """The PTB callback of one state of the /log flow."""

    async def handle(update: Update, context: Context) -> int:
        req = await request(update, context)
        contacts, draft = context.bot_data.services.contacts, _draft(context)
        return await _advance(update, context, lambda: contact_log.step(contacts, req, state, draft))

    handle.__name__ = handle.__qualname__ = f"log_step_{state}"
    handle.__doc__ = "Take one answer of the guided /log."
    return handle


async def cancel(update: Update, context: Context) -> int:
    """Abandon the current /log flow."""
    if context.user_data is not None:
        context.user_data.pop(DRAFT_KEY, None)
    await say(update, context, Reply("已取消。"), in_flow=True)
    return ConversationHandler.END


# --- digest and errors --------------------------------------------------------------------------
async def morning_digest(context: Context) -> None:
    """Send each RM the day's follow-ups and birthdays."""
    services = context.bot_data.services
    for staff in await run(services.staff.digest_recipients):
        try:
            view = await run(services.today.view, staff)
            assert staff.telegram_id is not None
            for part in split_html(render_digest(view)):
                await context.bot.send_message(chat_id=staff.telegram_id, text=part)
        except Forbidden:
            logger.info("digest: %s has not started a chat with the bot", staff.code)
        except Exception:
            logger.exception("digest for %s failed", staff.code)


async def on_error(update: object, context: Context) -> None:
    """Log the failure and tell the user briefly (once per update); a ServiceError is shown as is."""
    error = context.error
    if isinstance(error, ServiceError):
        text = service_error(error.message)
    else:
        logger.error("error while handling update %s", getattr(update, "update_id", update), exc_info=error)
        text = error_text()
    if isinstance(update, Update):
        await notify(update, context, text)
