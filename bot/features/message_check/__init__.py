"""Check a message before it is sent to a client: marketing compliance, privacy and suitability, with a
compliant rewrite (`/check`, the console twin, `rm-assistant check-message`).

Modules: `service` (MessageCheckService), `rewrite`, `store` (recorded checks), `render` (chat texts).
The text rules live in `knowledge/conduct_rules.toml` (shared with the answer check).
"""

from __future__ import annotations

from bot.core import Request
from bot.features.message_check.render import PROMPT, render_check, render_stored
from bot.features.message_check.service import CheckResult, Finding, MessageCheckService
from bot.features.message_check.store import OK, REVISE, CheckStore, StoredCheck
from bot.rendering import Reply


def check(svc: MessageCheckService, req: Request) -> Reply:
    """Check the message in the arguments (a bare /check asks for it: the front end sends the next
    message here)."""
    if not req.args.strip():
        return Reply(PROMPT)
    return Reply(render_check(svc.check(req.staff, req.args, channel=req.frontend)))


__all__ = [
    "OK",
    "PROMPT",
    "REVISE",
    "CheckResult",
    "CheckStore",
    "Finding",
    "MessageCheckService",
    "StoredCheck",
    "check",
    "render_check",
    "render_stored",
]
