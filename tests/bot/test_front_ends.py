"""Front ends only translate: what a feature decides is not written again in bot/telegram, bot/console or
bot/cli (issue #19). Structural checks, plus the composition option that replaced a CLI's patching."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from bot.composition import open_services
from bot.convlog import ConversationLog
from bot.settings import Settings
from tests.bot.fakes import FakeCRM, FakeKB

BOT = Path(__file__).resolve().parents[2] / "bot"


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_sending_replies_knows_no_feature() -> None:
    assert not {m for m in _imports(BOT / "telegram" / "replies.py") if m.startswith("bot.features")}


def test_no_front_end_matches_a_command_by_its_text() -> None:
    pattern = re.compile(r"""startswith\(\s*["']/\w""")  # a named command, not "any command"
    found = [
        f"{p.relative_to(BOT.parent)}:{n}"
        for folder in ("telegram", "console")
        for p in (BOT / folder).rglob("*.py")
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert found == []


def test_the_command_line_opens_no_store_and_patches_no_service() -> None:
    store = re.compile(r"\b\w*Store\(")
    patched = re.compile(r"\bservices\.\w+\.\w+\s*=[^=]")
    found = [
        f"{p.relative_to(BOT.parent)}:{n}: {line.strip()}"
        for p in (BOT / "cli").rglob("*.py")
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if store.search(line) or patched.search(line)
    ]
    assert found == []


def test_the_command_line_publishes_with_its_vectors(settings: Settings) -> None:
    log = ConversationLog(settings.effective_database_url)
    try:
        for wait in (False, True):
            with open_services(settings, kb=FakeKB(), crm=FakeCRM(), log=log, wait_for_vectors=wait) as s:
                publisher: Any = s.approvals.publisher
                assert publisher._wait is wait  # the bot follows vectors; the CLI waits for them
    finally:
        log.close()
