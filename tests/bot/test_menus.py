"""Per-role command menus as the bot registers them (end to end); the mapping itself is tested with the
command table (tests/bot/test_commands.py)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.commands import menu_for
from crm_adapter import Role, Staff
from tests.bot.conftest import TELEGRAM_IDS, BotWorld, running
from tests.bot.fake_bot_api import FakeBotAPI
from tests.bot.test_telegram_e2e import send, settle

RM, SUP, TRN, ADM = (TELEGRAM_IDS[c] for c in ("RM001", "SUP01", "TRN01", "ADM01"))


def names(role: Role | None) -> set[str]:
    return {name for name, _ in menu_for(role)}


def chat_menu(fake: FakeBotAPI, chat_id: int) -> set[str]:
    return {c["command"] for c in fake.commands_for(scope={"type": "chat", "chat_id": chat_id})}


def menu_calls(fake: FakeBotAPI, chat_id: int, since: int = 0) -> list[Any]:
    calls = fake.calls("setMyCommands", since=since)
    return [c for c in calls if (c.params.get("scope") or {}).get("chat_id") == chat_id]


# --- end to end ----------------------------------------------------------------------------------------
@pytest.mark.anyio
@pytest.mark.slow
async def test_menus_registered_at_startup(bot_world: BotWorld) -> None:
    fake = bot_world.fake
    async with running(bot_world.build()):
        assert {c["command"] for c in fake.commands} == {"start", "help"}
        assert all(c["description"] for c in fake.commands)
        rm = chat_menu(fake, RM)
        assert {"client", "log", "today", "help", "cancel"} <= rm and not {"review", "kb"} & rm
        sup = chat_menu(fake, SUP)
        assert "review" in sup and "log" not in sup
        trn = chat_menu(fake, TRN)
        assert "kb" in trn and "client" not in trn
        assert chat_menu(fake, ADM) == names(Role.ADMIN)
        # Already done at startup: using the bot makes no further call.
        mark = fake.mark()
        await send(fake, RM, "/help")
        await send(fake, RM, "/today")
        assert menu_calls(fake, RM, since=mark) == []


@pytest.mark.anyio
@pytest.mark.slow
async def test_menu_set_lazily_once_and_failures_do_not_block(
    bot_world: BotWorld, caplog: pytest.LogCaptureFixture
) -> None:
    fake = bot_world.fake
    crm = bot_world.crm
    caplog.set_level(logging.WARNING, logger="bot.telegram.handlers")
    # Every menu call at startup fails (default scope + the five demo staff with Telegram ids).
    fake.inject_error("setMyCommands", 400, description="Bad Request: chat not found", times=6)
    async with running(bot_world.build()):
        assert fake.commands == [] and chat_menu(fake, RM) == set()
        assert "could not" in caplog.text
        # The first update from the RM sets the menu; later ones do not call again.
        [reply] = await send(fake, RM, "/help")
        assert reply.visible_text
        await fake.wait_for_async(lambda c: len(menu_calls(fake, RM)) == 2, timeout=30)
        assert "client" in chat_menu(fake, RM)
        await send(fake, RM, "/help")
        await send(fake, RM, "/today")
        assert len(menu_calls(fake, RM)) == 2  # the failed startup call and the lazy one
        # Staff registered after startup get their menu on first use; a failure is logged, not shown.
        crm.add_staff(staff=Staff(code="TRN09", name="孙莉", role=Role.TRAINER, telegram_id=3009))
        fake.inject_error("setMyCommands", 400, description="Bad Request: chat not found")
        caplog.clear()
        [reply] = await send(fake, 3009, "/help")
        assert reply.visible_text and "出了点问题" not in reply.visible_text
        await fake.wait_for_async(lambda c: bool(menu_calls(fake, 3009)), timeout=30)
        await send(fake, 3009, "/help")
        assert len(menu_calls(fake, 3009)) == 1 and chat_menu(fake, 3009) == set()
        assert "could not set the command menu of TRN09" in caplog.text


@pytest.mark.anyio
@pytest.mark.slow
async def test_role_change_and_removal_reach_the_menu_without_restart(
    bot_world: BotWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.identity

    monkeypatch.setattr(bot.identity, "STAFF_CACHE_SECONDS", 0.0)  # see CRM changes at once
    fake, crm = bot_world.fake, bot_world.crm
    async with running(bot_world.build()):
        assert chat_menu(fake, SUP) == names(Role.SUPERVISOR)
        # The supervisor becomes a trainer: their next message brings the trainer's menu.
        staff = crm.get_staff(code="SUP01")
        crm.add_staff(staff=staff.model_copy(update={"role": Role.TRAINER}))
        mark = fake.mark()
        await send(fake, SUP, "/help")
        await fake.wait_for_async(lambda c: bool(menu_calls(fake, SUP, since=mark)), timeout=30)
        assert chat_menu(fake, SUP) == names(Role.TRAINER)
        # Removed from the staff list: refused, and the menu falls back to the stranger's.
        crm.remove_staff(code="SUP01")
        mark = fake.mark()
        [reply] = await send(fake, SUP, "/help")
        assert "已登记的员工" in (reply.visible_text or "")
        await fake.wait_for_async(lambda c: bool(menu_calls(fake, SUP, since=mark)), timeout=30)
        assert chat_menu(fake, SUP) == names(None)
        # Once is enough: a stranger's further messages make no menu calls.
        mark = fake.mark()
        fake.push_message(SUP, "还在吗")
        await settle(fake)
        assert menu_calls(fake, SUP, since=mark) == []
