"""Rendering primitives shared by every feature: Telegram HTML escaping, replies, dates, splitting.

Every piece of user or knowledge-base text goes through `esc` (html.escape) before it is placed in a
message, because Telegram's HTML parse mode rejects — or worse, interprets — stray `<`, `>` and `&`.
Tags never span lines, so `split_html` can pack whole lines into messages of at most 4096 characters.
The console twin shows the same HTML through `to_plain`.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol

from crm_adapter import Role

logger = logging.getLogger(__name__)

#: Telegram's limit on one message's text.
TELEGRAM_LIMIT = 4096

_WEEKDAY_NAMES = "一二三四五六日"
_ROLE_NAMES = {
    Role.RM: "客户经理",
    Role.SUPERVISOR: "团队主管",
    Role.TRAINER: "培训师",
    Role.COMPLIANCE: "合规",
    Role.ADMIN: "管理员",
}


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button: a label and the callback data sent back when pressed (≤ 64 bytes)."""

    text: str
    data: str


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class Notice:
    """A message for other staff that a reply brings about (e.g. approvers told of a pending change):
    every staff member with one of `roles` except `exclude`, or only the staff member `only`. Telegram
    sends it; the console has no others."""

    roles: frozenset[Role]
    text: str
    exclude: str = ""
    only: str = ""

    def reaches(self, staff_code: str, role: Role) -> bool:
        if self.only:
            return staff_code == self.only
        return role in self.roles and staff_code != self.exclude


class Progress(Protocol):
    """Background work a reply reports on, in the feature's own words."""

    def status(self) -> tuple[str, bool]:
        """The status line as it is now (HTML) and whether the work is finished. Blocking: front ends
        call it in a worker thread."""
        ...


@dataclass(frozen=True, slots=True)
class Reply:
    """One rendered reply: HTML text, an optional inline keyboard, optional typed-answer choices.

    `keyboard` buttons call back into the command table (Telegram: inline buttons; console: a numbered
    pick list when `choose`). `options` are answers the user may type (Telegram: a one-time reply
    keyboard; console: shown with the prompt).
    """

    text: str
    keyboard: Keyboard | None = None
    options: tuple[str, ...] = ()
    columns: int = 3
    choose: bool = False  # the keyboard is a pick the user must make to go on
    #: A PNG shown after the text (Telegram: sendPhoto; console and CLI: written to a file).
    photo: bytes | None = field(default=None, repr=False)
    #: Work the reply started that goes on in the background (a published document's vectors): the front
    #: end may follow it (Telegram: one status message edited as it moves; console: nothing).
    progress: Progress | None = field(default=None, repr=False)
    notices: tuple[Notice, ...] = ()


def esc(value: object) -> str:
    """Escape any text for Telegram HTML (quotes too, so it is also safe inside attributes)."""
    return html.escape(str(value), quote=True)


def fmt_date(value: date | None) -> str:
    if value is None:
        return "—"
    return f"{value:%Y-%m-%d}（周{_WEEKDAY_NAMES[value.weekday()]}）"


def fmt_datetime(value: datetime, tz: object | None = None) -> str:
    local = value.astimezone(tz) if tz is not None else value  # type: ignore[arg-type]
    return f"{local:%m-%d %H:%M}"


def fmt_range(since: date, until: date) -> str:
    return f"{since:%Y-%m-%d}" if since == until else f"{since:%Y-%m-%d} ~ {until:%Y-%m-%d}"


def clip(text: str, limit: int) -> str:
    """One line of at most `limit` characters (whitespace folded), with an ellipsis when cut."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit] + "…"


def plain_quote(text: str) -> str:
    """A quoted Markdown table reads as cells, not pipes and dashes."""
    if "|" not in text:
        return text
    rows = [line for line in text.splitlines() if not re.fullmatch(r"[\s|:-]*", line)]
    cells = [" · ".join(c.strip() for c in row.strip().strip("|").split("|") if c.strip()) for row in rows]
    return "；".join(c for c in cells if c)


def role_name(role: Role) -> str:
    return _ROLE_NAMES.get(role, str(role))


# --- fixed texts -----------------------------------------------------------------------------------
def refusal_unregistered() -> str:
    return "您好！本助手仅供本行已登记的员工使用。如需开通，请联系您的团队管理员登记 Telegram 账号。"


def group_refusal() -> str:
    return "为保护客户信息，该功能只能在与我的私聊中使用，请私聊我。"


def error_text() -> str:
    return "抱歉，处理您的请求时出了点问题，请稍后再试。"


def service_error(message: str) -> str:
    return f"⚠️ {esc(message)}"


def cancelled() -> str:
    return "已取消。"


# --- message splitting ---------------------------------------------------------------------------
_TOKEN = re.compile(r"<[^>]*>|&#?\w+;|\n|[^<&\n]+|[<&]")
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)[^>]*>")


def _units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def split_html(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Split HTML into messages of at most `limit` UTF-16 units, never inside a tag or an entity.

    Cuts at the last paragraph break, else line break, else anywhere in plain text; tags still open at
    a cut are closed at its end and re-opened at the start of the next part.
    """
    if _units(text) <= limit:
        return [text] if text else []
    atoms: list[str] = []
    for tok in _TOKEN.findall(text):
        if tok.startswith(("<", "&")) or tok == "\n":
            atoms.append(tok)
        else:
            atoms.extend(tok)  # plain text may be cut between any two characters
    parts: list[str] = []
    stack: list[tuple[str, str]] = []  # (name, opening tag) of tags open at the current point
    cur: list[str] = []
    cur_units = 0
    # best cut so far: (index in cur, stack at that point, priority)
    best: tuple[int, list[tuple[str, str]], int] | None = None

    def closing(open_tags: list[tuple[str, str]]) -> str:
        return "".join(f"</{name}>" for name, _ in reversed(open_tags))

    def reopening(open_tags: list[tuple[str, str]]) -> list[str]:
        return [tag for _, tag in open_tags]

    i = 0
    while i < len(atoms):
        atom = atoms[i]
        size = _units(atom)
        # Reserve room for closing the tags that would be open after this atom.
        after = list(stack)
        m = _TAG.fullmatch(atom)
        if m:
            name = m.group(2).lower()
            if m.group(1):
                for k in range(len(after) - 1, -1, -1):
                    if after[k][0] == name:
                        del after[k]
                        break
            elif not atom.endswith("/>"):
                after.append((name, atom))
        if cur_units + size + _units(closing(after)) > limit and cur:
            if best is not None and best[0] > 0:
                cut, cut_stack, _ = best
            else:
                cut, cut_stack = len(cur), list(stack)
            head = "".join(cur[:cut]) + closing(cut_stack)
            tail = cur[cut:]
            parts.append(head.strip("\n"))
            cur = reopening(cut_stack) + [t for t in tail]
            # Drop leading newlines of the new part (they came right after the cut).
            while len(cur) > len(cut_stack) and cur[len(cut_stack)] == "\n":
                del cur[len(cut_stack)]
            cur_units = sum(_units(t) for t in cur)
            best = None
            continue  # retry the same atom against the new part
        cur.append(atom)
        cur_units += size
        stack = after
        if atom == "\n":
            paragraph = len(cur) >= 2 and cur[-2] == "\n"
            priority = 2 if paragraph else 1
            if best is None or priority >= best[2] or best[0] < len(cur) // 2:
                best = (len(cur), list(stack), priority)
        elif not m and not atom.startswith("&") and (best is None or best[2] == 0):
            best = (len(cur), list(stack), 0)
        i += 1
    tail_text = "".join(cur).strip("\n")
    if tail_text:
        parts.append(tail_text)
    return [p for p in parts if p.strip()]


def to_plain(text: str) -> str:
    """Console variant of a rendered HTML message: links as `text (url)`, tags dropped, entities decoded."""
    text = re.sub(r'<a\s+href="([^"]*)"[^>]*>(.*?)</a>', lambda m: f"{m.group(2)} ({m.group(1)})", text)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text)
