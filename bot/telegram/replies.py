"""Sending replies and building `Request`s: the plumbing every Telegram handler shares."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar

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
from bot.rendering import Notice, Progress, Reply, split_html
from bot.telegram.context import BotData, Context
from crm_adapter import Staff

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
    if reply.progress is not None:
        await follow(update, context, reply.progress)
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


#: Fewest seconds between two edits of a progress message (Telegram limits edits per chat).
UPLOAD_EDIT_INTERVAL = 2.0


async def follow(update: Update, context: Context, progress: Progress) -> None:
    """One status message, edited as a reply's background work moves on (e.g. a published document:
    searchable → vectors n/N → the report). The wording is the feature's.

    Returns at once; a task of the Application follows the work, so the chat is free meanwhile.
    """
    chat = update.effective_chat
    if chat is None:
        return
    text, finished = await run(progress.status)
    status = await context.bot.send_message(chat_id=chat.id, text=text)
    if finished:
        return

    async def show(text: str) -> None:
        try:
            await status.edit_text(text)
        except TelegramError as exc:  # a lost edit costs only the progress line
            logger.warning("could not edit the progress message in chat %s: %s", status.chat_id, exc)

    async def follow_up(shown: str) -> None:
        while context.application.running:  # stop() ends it within a tick
            await asyncio.sleep(UPLOAD_EDIT_INTERVAL)
            text, finished = await run(progress.status)
            if text != shown:
                shown = text
                await show(text)
            if finished:
                return

    context.application.create_task(follow_up(text), update=update)


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
