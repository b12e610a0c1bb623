"""Telegram handlers: translate updates into `Request`s for the command table and replies back.

Handlers are thin (parse → feature → render), run the blocking feature calls in worker threads, and let
`ServiceError` bubble up to `on_error`, which shows its Chinese message. The /log conversation (and what
an edited message means) is in `bot.telegram.log_handlers`; sending replies in `bot.telegram.replies`.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.error import Forbidden, TelegramError
from telegram.ext import ApplicationHandlerStop, ExtBot

from bot import commands, roles
from bot.audit.anchors import render_anchor, take_anchor
from bot.core import ServiceError
from bot.features import approvals
from bot.features.ask import ask as ask_feature
from bot.features.today import render_digest
from bot.rendering import error_text, refusal_unregistered, service_error, split_html
from bot.telegram.context import Context
from bot.telegram.log_handlers import DRAFT_KEY, edit_of_saved, ignored_edit

# Re-exported: app.py registers the /log conversation and tests name its texts through this module.
from bot.telegram.log_handlers import EDIT_NOT_APPLIED as EDIT_NOT_APPLIED
from bot.telegram.log_handlers import EDIT_NOT_IN_DRAFT as EDIT_NOT_IN_DRAFT
from bot.telegram.log_handlers import FLOW as FLOW
from bot.telegram.log_handlers import LOG_NOT_SAVED as LOG_NOT_SAVED
from bot.telegram.log_handlers import LOG_SAVED_REPLY_FAILED as LOG_SAVED_REPLY_FAILED
from bot.telegram.log_handlers import cancel as cancel
from bot.telegram.log_handlers import log as log
from bot.telegram.log_handlers import log_step as log_step
from bot.telegram.replies import notify, request, run, say, staff_for
from crm_adapter import Staff

logger = logging.getLogger(__name__)

#: An unknown user is told "not registered" at most once per this many seconds.
REFUSAL_INTERVAL = 3600.0
#: user_data key: a bare /check was sent, so the next text message is the draft to check.
CHECK_KEY = "check_pending"


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


async def gate(update: Update, context: Context) -> None:
    """Drop redelivered updates and anyone who is not registered staff; fail closed on any error."""
    try:
        await _admit(update, context)
    except ApplicationHandlerStop:
        raise
    except Exception:
        # Fail closed: no handler runs. One short reply (at most one per update) so nobody waits.
        logger.error("access gate failed on update %s; dropping it", update.update_id, exc_info=True)
        await notify(update, context, _unavailable(update, context))
        raise ApplicationHandlerStop from None


def _unavailable(update: Update, context: Context) -> str:
    """The one line of an update the gate could not take: the command's own (a /log: not saved), the
    flow's when it answers one in progress, else the general one."""
    message = update.effective_message
    row = commands.command_of((message.text or "") if message is not None else "")
    if row is None and DRAFT_KEY in (context.user_data or {}):
        row = commands.command(FLOW)  # an answer inside the /log in progress
    return row.unavailable if row is not None and row.unavailable else GATE_UNAVAILABLE


async def _admit(update: Update, context: Context) -> None:
    data = context.bot_data
    if data.inbox is not None and not await data.inbox.claim(update):
        raise ApplicationHandlerStop  # handled before: a redelivery
    user = update.effective_user
    if user is None:
        raise ApplicationHandlerStop
    staff = await staff_for(data, user.id)
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


# --- the command table's handlers ----------------------------------------------------------------
def command_handler(name: str) -> Callable[[Update, Context], Any]:
    """A PTB callback running table row `name`."""

    async def handle(update: Update, context: Context) -> None:
        if ignored_edit(update):
            return
        if context.user_data is not None:  # another command: a bare /check no longer waits for a draft
            context.user_data.pop(CHECK_KEY, None)
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


async def check(update: Update, context: Context) -> None:
    """/check 消息 (or a bare /check: the next text message is the draft) through the command table."""
    if ignored_edit(update):
        return
    message = update.effective_message
    parts = (message.text or "").split(maxsplit=1) if message is not None else []
    req = await request(update, context, args=parts[1] if len(parts) > 1 else "")
    reply = await run(commands.run_command, context.bot_data.services, "check", req)
    if context.user_data is not None:
        if req.args.strip():
            context.user_data.pop(CHECK_KEY, None)
        else:
            context.user_data[CHECK_KEY] = True
    await say(update, context, reply)


async def ask(update: Update, context: Context) -> None:
    """Answer a plain-text question from the knowledge base (or check it: the draft after a bare /check).

    An edited question is answered again as a new question (Telegram sends an edit only when the text
    changed) and logged as its own exchange; an edited message that had stored a contact record is not.
    """
    if update.edited_message is not None and await edit_of_saved(update, context):
        return
    req = await request(update, context)
    if (
        update.edited_message is None
        and context.user_data is not None
        and context.user_data.pop(CHECK_KEY, False)
    ):
        await say(update, context, await run(commands.run_command, context.bot_data.services, "check", req))
        return
    await say(update, context, await run(ask_feature, context.bot_data.services.ask, req))


async def document(update: Update, context: Context) -> None:
    """Submit an uploaded document as a knowledge change awaiting a second person's approval."""
    if ignored_edit(update):
        return
    message = update.effective_message
    assert message is not None and message.document is not None
    req = await request(update, context, args="")
    commands.check(commands.command("document"), req)
    services = context.bot_data.services
    admin = services.knowledge
    name = admin.safe_name(message.document.file_name or "document.txt")
    admin.check_file(name)
    admin.check_size(message.document.file_size)  # before any download
    upload_dir = Path(context.bot_data.upload_dir)
    upload_dir.mkdir(parents=True, exist_ok=True)
    # A folder of this update's own: two trainers sending files of the same name at once never share a
    # path, so each change holds the bytes its own submitter sent.
    folder = Path(tempfile.mkdtemp(prefix=f"update-{update.update_id}-", dir=upload_dir))
    try:
        path = folder / name
        file = await message.document.get_file()
        await file.download_to_drive(path)
        change = await run(services.approvals.submit, req.staff, path, file_name=name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the change keeps its own copy of the bytes
    await say(update, context, approvals.submitted_reply(change, submitter=req.staff))


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


async def audit_anchor(context: Context) -> None:
    """Post the audit chain's head (HASH:N) to the compliance officers; append it to RM_AUDIT_ANCHOR_FILE."""
    services = context.bot_data.services
    if services.audit is None:
        return
    at = services.clock.now()
    anchor = await run(take_anchor, services.audit, at=at, file=services.settings.rm_audit_anchor_file)
    logger.info("audit anchor %s", anchor)
    text = render_anchor(anchor, at)
    for staff in await run(services.staff.with_telegram):
        if staff.role not in roles.ANCHOR_RECIPIENTS:
            continue
        assert staff.telegram_id is not None
        try:
            await context.bot.send_message(chat_id=staff.telegram_id, text=text)
        except Forbidden:
            logger.info("audit anchor: %s has not started a chat with the bot", staff.code)
        except Exception:
            logger.exception("audit anchor for %s failed", staff.code)


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
