"""Sending replies and building `Request`s: the plumbing every Telegram handler shares."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.core import Request, ServiceError
from bot.rendering import Notice, Reply, split_html
from bot.telegram.context import BotData, Context
from crm_adapter import Staff

if TYPE_CHECKING:
    from knowledge import IngestReport

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


async def run(func: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """Run a blocking call in a worker thread so the event loop keeps serving other chats."""
    return await asyncio.to_thread(func, *args, **kwargs)


def markup_of(reply: Reply, *, in_flow: bool = False) -> Any:
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
    markup = markup_of(reply, in_flow=in_flow)
    for i, part in enumerate(parts):
        await context.bot.send_message(
            chat_id=chat.id, text=part, reply_markup=markup if i == len(parts) - 1 else None
        )
    if reply.photo:
        try:
            await context.bot.send_photo(chat_id=chat.id, photo=reply.photo)
        except TelegramError as exc:  # the text is delivered; the chart is its companion
            logger.warning("could not send the image of a reply to chat %s: %s", chat.id, exc)
    if reply.ingest is not None:
        await follow_ingest(update, context, reply.ingest_name, reply.ingest)
    for notice in reply.notices:
        await tell(context, notice)


async def tell(context: Context, notice: Notice) -> None:
    """Send a notice to the staff it names (a lost notice costs little: the lists show the same)."""
    for staff in await run(context.bot_data.services.staff.with_telegram):
        if not notice.reaches(staff.code, staff.role) or staff.telegram_id is None:
            continue
        try:
            await context.bot.send_message(chat_id=staff.telegram_id, text=notice.text)
        except TelegramError as exc:
            logger.warning("could not send a notice to %s: %s", staff.code, exc)


#: Fewest seconds between two edits of an ingest's status message (Telegram limits edits per chat).
UPLOAD_EDIT_INTERVAL = 2.0


async def follow_ingest(update: Update, context: Context, name: str, report: IngestReport) -> None:
    """One status message, edited as the ingest's vectors arrive (searchable → vectors n/N → the report).

    Returns at once; a task of the Application follows the vectors, so the chat is free meanwhile.
    """
    from bot.features import knowledge_admin

    chat = update.effective_chat
    if chat is None:
        return
    admin = context.bot_data.services.knowledge
    progress = await run(admin.vector_progress, report)
    if progress.finished:
        await context.bot.send_message(
            chat_id=chat.id, text=knowledge_admin.render_ingest(name, report, progress)
        )
        return
    status = await context.bot.send_message(
        chat_id=chat.id, text=knowledge_admin.render_progress(name, progress)
    )

    async def show(text: str) -> None:
        try:
            await status.edit_text(text)
        except TelegramError as exc:  # a lost edit costs only the progress line
            logger.warning("could not edit the ingest status in chat %s: %s", status.chat_id, exc)

    async def follow(progress: Any) -> None:
        shown = progress.done
        while not progress.finished and context.application.running:  # stop() ends it within a tick
            await asyncio.sleep(UPLOAD_EDIT_INTERVAL)
            progress = await run(admin.vector_progress, report)
            if progress.done != shown and not progress.finished:
                shown = progress.done
                await show(knowledge_admin.render_progress(name, progress))
        if progress.finished:
            await show(knowledge_admin.render_ingest(name, report, progress))

    context.application.create_task(follow(progress), update=update)


async def staff_for(data: BotData, telegram_id: int) -> Staff | None:
    """The staff lookup, without a worker-thread hop when the answer is cached."""
    directory = data.services.staff
    cached, staff = directory.cached(telegram_id)
    if cached:
        return staff
    return await run(directory.for_telegram, telegram_id)


async def request(update: Update, context: Context, args: str | None = None) -> Request:
    """The `Request` of an update from registered staff (the gate let only staff through)."""
    user = update.effective_user
    staff = await staff_for(context.bot_data, user.id) if user else None
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
        state=context.user_data if context.user_data is not None else {},
    )


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


__all__ = ["markup_of", "notify", "request", "run", "say", "staff_for"]
