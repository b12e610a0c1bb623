"""The /log conversation on Telegram: the shared flow (`bot.features.contact_log.flow`) driven by PTB's
ConversationHandler, and what an edited message (an ``edited_message`` update) means around it.

Edits: a message that stored a contact record (or found it stored before) never changes it — the RM is
told when it was stored and how to correct it (a new /log; the original stays for audit). An answer of
the unconfirmed draft, edited, updates the draft and the current question is asked again; the draft's own
/log, edited, starts the draft again; a message of a cancelled /log, edited, is not taken for a question.
To tell these apart, user_data (persisted, JSON) keeps which message answered which step of the draft,
and for the newest `LOGGED_KEEP` messages of finished /logs when their record was stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from telegram import Update
from telegram.ext import ConversationHandler

from bot import commands
from bot.core import Request, ServiceError
from bot.features import contact_log
from bot.rendering import Reply
from bot.telegram.context import Context
from bot.telegram.replies import notify, request, run, say

logger = logging.getLogger(__name__)

#: Where a half-finished /log lives in `context.user_data` (persisted).
DRAFT_KEY = "log_draft"
#: user_data: message id → the /log state it answered, for the draft in progress (`ENTRY`: the /log).
LOG_MESSAGES_KEY = "log_messages"
#: user_data: message id of a finished /log → when its record was created (ISO; "" if cancelled), for
#: the newest `LOGGED_KEEP`.
LOGGED_KEY = "logged_messages"
LOGGED_KEEP = 50
ENTRY = -1
#: An edited /log we have no trace of (too old, or it was never saved): nothing is changed.
EDIT_NOT_APPLIED = "修改后的 /log 消息不会重新登记；如需登记或更正，请发送新的 /log。"
#: An edited message of a cancelled /log: nothing is stored.
EDIT_OF_CANCELLED = "这条联系记录已取消，修改未被采用；如需登记，请重新发送 /log。"
#: An edited message that is no answer of the /log in progress: the draft stays as it is.
EDIT_NOT_IN_DRAFT = "您修改的消息不属于当前这条联系记录，草稿未改。"
#: The row of the command table this conversation runs.
FLOW = "log"
#: A /log could not be stored (the CRM or its database failed): the record was NOT saved.
LOG_NOT_SAVED = contact_log.NOT_SAVED
#: The record was saved but its confirmation could not be sent: do not resend.
LOG_SAVED_REPLY_FAILED = "✅ 联系记录已保存（刚才的确认消息未能送达），无需重发。"


def _draft(context: Context) -> dict[str, object]:
    assert context.user_data is not None
    draft = context.user_data.get(DRAFT_KEY)
    return draft if isinstance(draft, dict) else {}


def ignored_edit(update: Update) -> bool:
    """Edited commands (other than /log) and uploads are not run again: an edit is no new request."""
    if update.edited_message is None:
        return False
    logger.info(
        "ignoring the edit of message %s (update %s)", update.edited_message.message_id, update.update_id
    )
    return True


def _messages(context: Context, key: str) -> dict[str, Any]:
    assert context.user_data is not None
    found = context.user_data.get(key)
    return found if isinstance(found, dict) else {}


def _remember(update: Update, context: Context, step: contact_log.Step, answered: int | None) -> None:
    """Keep which message answered which step of the draft, and which messages stored a record, so an
    edit of one of them can be told apart (`_log_edit`). JSON data: persisted with user_data."""
    assert context.user_data is not None
    message = update.effective_message
    mid = None if message is None else str(message.message_id)
    draft_messages = {} if answered == ENTRY else dict(_messages(context, LOG_MESSAGES_KEY))
    if mid is not None and answered is not None:
        draft_messages[mid] = answered
    if step.state is None:
        _finish(context, draft_messages, "" if step.record is None else step.record.created_at.isoformat())
    else:
        context.user_data[LOG_MESSAGES_KEY] = draft_messages


def _finish(context: Context, draft_messages: dict[str, Any], saved_at: str) -> None:
    """The /log is over: its messages now point at the stored record (`saved_at`; "" if cancelled)."""
    assert context.user_data is not None
    logged = {**_messages(context, LOGGED_KEY), **dict.fromkeys(draft_messages, saved_at)}
    context.user_data[LOGGED_KEY] = dict(list(logged.items())[-LOGGED_KEEP:])
    context.user_data.pop(LOG_MESSAGES_KEY, None)


def _remember_refused(update: Update, context: Context, answered: int | None) -> None:
    """A refused answer of the draft (e.g. an unknown client) is still its message: edited, it is a retry."""
    message = update.effective_message
    if message is None or answered in (None, ENTRY) or DRAFT_KEY not in (context.user_data or {}):
        return
    assert context.user_data is not None
    context.user_data[LOG_MESSAGES_KEY] = {
        **_messages(context, LOG_MESSAGES_KEY),
        str(message.message_id): answered,
    }


async def edit_of_saved(update: Update, context: Context) -> bool:
    """An edited message of a finished /log: say the record stays as it is (or that it was cancelled)."""
    message = update.effective_message
    saved = None if message is None else _messages(context, LOGGED_KEY).get(str(message.message_id))
    if not isinstance(saved, str):
        return False
    if not saved:
        await say(update, context, Reply(EDIT_OF_CANCELLED))
        return True
    clock = context.bot_data.services.contacts.clock
    await say(update, context, Reply(contact_log.render_edit_of_saved(datetime.fromisoformat(saved), clock)))
    return True


async def _log_edit(update: Update, context: Context, req: Request, state: int | None) -> int | None:
    """An edited message reaching the /log conversation (`state`: where the draft waits; None: through
    the /log entry point). A saved record is never changed; an answer of the unconfirmed draft updates
    it; the draft's own /log, edited, starts it again. None keeps the conversation state."""
    if await edit_of_saved(update, context):
        return None
    message = update.effective_message
    answered = None if message is None else _messages(context, LOG_MESSAGES_KEY).get(str(message.message_id))
    contacts = context.bot_data.services.contacts
    if state is None:
        if answered != ENTRY:
            await say(update, context, Reply(EDIT_NOT_APPLIED))
            return None
        return await _advance(update, context, lambda: contact_log.start(contacts, req), answered=ENTRY)
    if answered == state:  # the answer had been refused (the state did not move): this is a new try
        draft = _draft(context)
        return await _advance(
            update, context, lambda: contact_log.step(contacts, req, state, draft), answered=state
        )
    if isinstance(answered, int) and ENTRY < answered < state:
        draft = _draft(context)
        return await _advance(
            update, context, lambda: contact_log.revise(contacts, req, state, draft, answered), answered=None
        )
    await say(update, context, Reply(EDIT_NOT_IN_DRAFT), in_flow=True)
    return None


def _saved(step: contact_log.Step) -> bool:
    """The step stored a contact record (or found it stored before)."""
    return step.record is not None


async def _advance(
    update: Update, context: Context, compute: Callable[[], Any], *, answered: int | None
) -> int:
    """Run one step of the flow, send its replies, then keep its state.

    A ServiceError (bad input, no access) leaves the state as it was and is shown as is. Any other
    failure while computing the step (CRM or database down) means nothing was saved: the user is told so
    and may resend the same message. When the replies of a step that saved a record cannot be sent,
    the record stays saved and the user is told that instead (one notice; the flow ends).
    """
    try:
        step: contact_log.Step = await run(compute)
    except ServiceError:
        _remember_refused(update, context, answered)
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
        _remember(update, context, step, answered)
        await notify(update, context, LOG_SAVED_REPLY_FAILED)
        return ConversationHandler.END
    _remember(update, context, step, answered)
    if step.state is None:
        context.user_data.pop(DRAFT_KEY, None)
        return ConversationHandler.END
    context.user_data[DRAFT_KEY] = step.draft
    return step.state


async def log(update: Update, context: Context) -> int | None:
    """Record a client contact: the one-line form, or start the guided flow."""
    req = await request(update, context)
    commands.check(commands.command(FLOW), req)
    if update.edited_message is not None:
        return await _log_edit(update, context, req, None)
    contacts = context.bot_data.services.contacts
    return await _advance(update, context, lambda: contact_log.start(contacts, req), answered=ENTRY)


def log_step(state: int) -> Callable[[Update, Context], Any]:
    """The PTB callback of one state of the /log flow."""

    async def handle(update: Update, context: Context) -> int | None:
        req = await request(update, context)
        if update.edited_message is not None:
            return await _log_edit(update, context, req, state)
        contacts, draft = context.bot_data.services.contacts, _draft(context)
        return await _advance(
            update, context, lambda: contact_log.step(contacts, req, state, draft), answered=state
        )

    handle.__name__ = handle.__qualname__ = f"log_step_{state}"
    handle.__doc__ = "Take one answer of the guided /log."
    return handle


async def cancel(update: Update, context: Context) -> int | None:
    """Abandon the current /log flow."""
    if ignored_edit(update):
        return None
    if context.user_data is not None:
        context.user_data.pop(DRAFT_KEY, None)
        context.user_data.pop("check_pending", None)  # a bare /check waiting for its draft
        _finish(context, _messages(context, LOG_MESSAGES_KEY), "")
    await say(update, context, Reply("已取消。"), in_flow=True)
    return ConversationHandler.END


__all__ = [
    "DRAFT_KEY",
    "EDIT_NOT_APPLIED",
    "EDIT_NOT_IN_DRAFT",
    "EDIT_OF_CANCELLED",
    "FLOW",
    "LOG_NOT_SAVED",
    "LOG_SAVED_REPLY_FAILED",
    "cancel",
    "edit_of_saved",
    "ignored_edit",
    "log",
    "log_step",
]
