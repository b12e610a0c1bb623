"""The role policy is written once: the command table, the features and the CLI ask `bot.roles`."""

from __future__ import annotations

import re
from pathlib import Path

from bot import commands, roles
from crm_adapter import Role, Staff

BOT = Path(__file__).resolve().parents[2] / "bot"


def _staff(role: Role) -> Staff:
    return Staff(code="X1", name="某人", role=role, team="A")


def test_the_command_table_uses_the_policy_sets() -> None:
    assert commands.command("client").roles is roles.CLIENT_READERS
    assert commands.command("approve").roles is roles.APPROVERS
    assert commands.command("today").roles == {Role.RM, Role.ADMIN, Role.SUPERVISOR}


def test_trainers_see_no_client_data_and_only_keepers_curate() -> None:
    assert [r for r in Role if not roles.sees_client_data(_staff(r))] == [Role.TRAINER]
    assert {r for r in Role if roles.may_curate(_staff(r))} == {Role.TRAINER, Role.ADMIN}
    assert {r for r in Role if roles.may_approve(_staff(r))} == {Role.TRAINER, Role.COMPLIANCE, Role.ADMIN}
    assert {r for r in Role if roles.team_scoped(_staff(r))} == {Role.SUPERVISOR}


def test_no_role_rule_is_written_outside_the_policy_module() -> None:
    # A rule is a comparison with a role or a set of roles; names for display (rendering) are no rule.
    rule = re.compile(
        r"(\.role\s*(==|!=|\bis\b|\bin\b|\bnot in\b)\s*(Role\.|\(|\{|frozenset))|frozenset\(\{Role\."
    )
    found = [
        f"{path.relative_to(BOT.parent)}:{n}"
        for path in BOT.rglob("*.py")
        if path.name != "roles.py"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if rule.search(line)
    ]
    assert found == []
