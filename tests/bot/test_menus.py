"""Per-role command menus: the role → commands mapping, and the menus the bot registers (end to end)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from bot.convlog import ConversationLog
from bot.services import Assistant, ServiceError
from bot.telegram_app import COMMANDS, DEFAULT_MENU, ROLE_MENUS, menu_for
from crm_adapter import Role, Staff
from tests.bot.conftest import TELEGRAM_IDS, BotWorld, running
from tests.bot.fake_bot_api import FakeBotAPI
from tests.bot.fakes import FakeCRM, FakeKB
from tests.bot.test_telegram_e2e import send, settle

RM, SUP, TRN, ADM = (TELEGRAM_IDS[c] for c in ("RM001", "SUP01", "TRN01", "ADM01"))


def names(role: Role | None) -> set[str]:
    return {name for name, _ in menu_for(role)}


def chat_menu(fake: FakeBotAPI, chat_id: int) -> set[str]:
    return {c["command"] for c in fake.commands_for(scope={"type": "chat", "chat_id": chat_id})}


def menu_calls(fake: FakeBotAPI, chat_id: int, since: int = 0) -> list[Any]:
    calls = fake.calls("setMyCommands", since=since)
    return [c for c in calls if (c.params.get("scope") or {}).get("chat_id") == chat_id]


# --- the mapping (pure) ----------------------------------------------------------------------------------
def test_menu_per_role() -> None:
    assert names(None) == {"start", "help"} == set(DEFAULT_MENU)
    assert names(Role.RM) == {"help", "client", "log", "today", "cancel"}
    assert names(Role.SUPERVISOR) == {"help", "client", "review", "unanswered", "stats", "cancel"}
    assert names(Role.TRAINER) == {"help", "kb", "unanswered", "stats", "cancel"}
    assert names(Role.ADMIN) == {name for name, _ in COMMANDS}
    assert set(ROLE_MENUS) == set(Role)
    known = dict(COMMANDS)
    for role in [None, *Role]:
        for name, desc in menu_for(role):
            assert desc == known[name] and any("\u4e00" <= ch <= "\u9fff" for ch in desc)


@pytest.fixture
def assistant(tmp_path: Path) -> Any:
    log = ConversationLog(f"sqlite:///{tmp_path / 'log.db'}")
    yield Assistant(kb=FakeKB(), crm=FakeCRM(), log=log, timezone="Asia/Shanghai")
    log.close()


@pytest.mark.parametrize("role", list(Role))
def test_menu_never_offers_a_command_the_services_refuse(assistant: Assistant, role: Role) -> None:
    """For the role-checked commands, the menu offers exactly those the services let the role run."""
    codes = {Role.RM: "RM001", Role.SUPERVISOR: "SUP01", Role.TRAINER: "TRN01", Role.ADMIN: "ADM01"}
    staff: Staff = assistant.crm.get_staff(code=codes[role])
    checked = {
        "review": lambda: assistant.review(staff),
        "unanswered": lambda: assistant.unanswered(staff),
        "stats": lambda: assistant.stats(staff),
        "kb": lambda: assistant.kb_search(staff, "钻石客户"),
    }
    menu = names(role)
    for command, call in checked.items():
        try:
            call()
            allowed = True
        except ServiceError as exc:
            assert exc.message.startswith("只有"), exc.message  # only a role refusal is expected here
            allowed = False
        assert (command in menu) == allowed, (role, command)
    if role in (Role.SUPERVISOR, Role.TRAINER):  # only RMs (and admins) write contact records
        assert "log" not in menu and "today" not in menu
    if role is Role.TRAINER:  # trainers see no client data
        assert "client" not in menu


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
        assert chat_menu(fake, ADM) == {name for name, _ in COMMANDS}
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
    caplog.set_level(logging.WARNING, logger="bot.telegram_app")
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
    import bot.services

    monkeypatch.setattr(bot.services, "STAFF_CACHE_SECONDS", 0.0)  # see CRM changes at once
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
