"""The daily anchor: the chain's head (`HASH:N`) kept outside the database.

Whoever can write the database can rebuild the whole chain consistently; they cannot change an anchor
already posted to the compliance officers or written to `RM_AUDIT_ANCHOR_FILE` (ideally a file on other
storage, append-only). `rm-assistant audit verify --anchor HASH:N` then proves the chain still holds row N
unchanged.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.rendering import esc

if TYPE_CHECKING:
    from bot.audit.trail import Anchor, AuditTrail

logger = logging.getLogger(__name__)


def take_anchor(trail: AuditTrail, *, at: datetime, file: Path | None = None) -> Anchor:
    """The chain's head now; appended to `file` (one line: time, then `HASH:N`) when given."""
    anchor = trail.anchor()
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        with file.open("a", encoding="utf-8") as out:
            out.write(f"{at.isoformat(timespec='seconds')} {anchor}\n")
    return anchor


def render_anchor(anchor: Anchor, at: datetime) -> str:
    """The message to the compliance officers (HTML)."""
    return (
        f"🔐 <b>审计锚点</b>（{at:%Y-%m-%d %H:%M}）\n<code>{esc(str(anchor))}</code>\n"
        f"审计记录共 {anchor.rows} 条。请在数据库之外妥善保存；核验：\n"
        f"<code>rm-assistant audit verify --anchor {esc(str(anchor))}</code>"
    )


__all__ = ["render_anchor", "take_anchor"]
