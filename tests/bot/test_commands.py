"""The one command table: menus, /help, the console's commands and access checks all come from it."""

from __future__ import annotations

import pytest

from bot import commands
from bot.composition import Services
from bot.core import Request, ServiceError
from crm_adapter import Role
from tests.bot.fakes import FakeCRM

CODES = {
    Role.RM: "RM001", Role.SUPERVISOR: "SUP01", Role.TRAINER: "TRN01", Role.COMPLIANCE: "CMP01",
    Role.ADMIN: "ADM01",
}  # fmt: skip


def names(role: Role | None) -> set[str]:
    return {name for name, _ in commands.menu_for(role)}


def test_menu_per_role() -> None:
    assert names(None) == {"start", "help"}
    assert names(Role.RM) == {
        "start", "help", "client", "check", "log", "used", "brief", "today", "done", "skip", "cancel",
    }  # fmt: skip
    assert names(Role.SUPERVISOR) == {
        "start", "help", "client", "check", "used", "brief", "today", "review", "reviewed", "note",
        "escalate", "unanswered", "stats", "cancel",
    }  # fmt: skip
    assert names(Role.TRAINER) == {
        "start", "help", "kb", "unanswered", "stats", "handoffs", "resolved", "curate", "uncurate",
        "kbusage", "changes", "approve", "reject", "cancel",
    }  # fmt: skip
    # Compliance officers approve knowledge changes; they see no client or team data.
    assert names(Role.COMPLIANCE) == {"start", "help", "changes", "approve", "reject", "cancel"}
    telegram_commands = {
        c.name for c in commands.COMMANDS if commands.TELEGRAM in c.frontends and c.kind == "command"
    }
    assert names(Role.ADMIN) == telegram_commands
    for role in [None, *Role]:
        for _, desc in commands.menu_for(role):
            assert any("\u4e00" <= ch <= "\u9fff" for ch in desc)


@pytest.mark.parametrize("role", list(Role))
def test_help_lists_exactly_what_the_role_may_run(role: Role) -> None:
    """A trainer's /help used to list /client, /log and /today (a drift between five role tables)."""
    for frontend in (commands.TELEGRAM, commands.CONSOLE):
        text = commands.help_text(role, frontend)
        for row in commands.COMMANDS:
            if row.kind != "command" or row.name == "start" or not row.usage:
                continue
            listed = f"/{row.name}" in text.split("—")[0] or f"\n/{row.name}" in text
            allowed = role in row.roles and frontend in row.frontends
            assert listed == allowed, (role, frontend, row.name)
    trainer = commands.help_text(Role.TRAINER, commands.TELEGRAM)
    assert "/client" not in trainer and "/log" not in trainer and "/today" not in trainer
    assert (".xlsx" in commands.help_text(role, commands.TELEGRAM)) == (role in commands.KNOWLEDGE_KEEPERS)


@pytest.mark.parametrize("role", list(Role))
def test_the_table_refuses_what_the_menu_does_not_offer(services: Services, crm: FakeCRM, role: Role) -> None:
    staff = crm.get_staff(code=CODES[role])
    for row in commands.COMMANDS:
        if row.run is None or commands.CONSOLE not in row.frontends:
            continue
        req = Request(staff=staff, args="钻石", frontend=commands.CONSOLE)
        try:
            commands.run_command(services, row.name, req)
            allowed = True
        except ServiceError as exc:
            allowed = "不能使用" not in exc.message
        assert allowed == (role in row.roles), (role, row.name)


def test_private_only_commands_refuse_group_chats(services: Services, crm: FakeCRM) -> None:
    """Every command that shows client or team data is private-only (one short refusal)."""
    for name in ("client", "log", "today", "review", "unanswered", "stats"):
        assert commands.command(name).private_only, name
    req = Request(staff=crm.get_staff(code="ADM01"), args="张伟", frontend="telegram", private=False)
    for name in ("client", "review", "unanswered", "stats", "today"):
        with pytest.raises(ServiceError, match="私聊"):
            commands.run_command(services, name, req)
    with pytest.raises(ServiceError, match="私聊"):
        commands.run_callback(services, "client:C0001", req)


def test_unknown_commands_and_buttons(services: Services, crm: FakeCRM) -> None:
    req = Request(staff=crm.get_staff(code="RM001"), frontend="console")
    with pytest.raises(ServiceError, match="未知命令"):
        commands.run_command(services, "nope", req)
    with pytest.raises(ServiceError, match="未知命令"):  # a console-only command is not reachable on Telegram
        commands.run_command(
            services, "upload", Request(staff=crm.get_staff(code="TRN01"), frontend="telegram")
        )
    with pytest.raises(ServiceError, match="失效"):
        commands.run_callback(services, "zz:1", req)


def test_a_message_names_its_command_row_exactly() -> None:
    from bot.features import contact_log

    log = commands.command("log")
    assert commands.command_of("/log 张伟 电话 例行问候") is log and commands.command_of("/log") is log
    assert commands.command_of("/log@RMAssistantBot 张伟") is log
    assert commands.command_of("/login") is None and commands.command_of("log 张伟") is None
    assert commands.command_of("/client 张伟") is commands.command("client")
    # the flows the front ends drive, and what the gate says when it cannot take one: from the table
    assert commands.flows() == (log,) and log.unavailable == contact_log.NOT_SAVED
