"""The console twin of the Telegram bot: the same command table, features and renderers in a REPL.

This is what a new user runs first (`rm-assistant chat`, or `rm-assistant run` without a token): the
composition root prepares the data directory, seeds the demo CRM when it has no staff, and indexes
the bundled knowledge.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import commands
from bot.core import Request, ServiceError
from bot.features.ask import ask as ask_feature
from bot.features.ask import feedback as feedback_feature
from bot.features.supervision.charts import save_png
from bot.rendering import Reply, error_text, role_name, to_plain
from crm_adapter import Staff

if TYPE_CHECKING:
    from bot.composition import Services
    from bot.settings import Settings

logger = logging.getLogger(__name__)

#: Who you are when `--as` is omitted: the first demo RM.
DEFAULT_STAFF_CODE = "RM001"

InputFn = Callable[[str], str]
OutputFn = Callable[[str], None]


class _Quit(Exception):
    """The user asked to leave (or closed the input)."""


class ConsoleSession:
    """One REPL: each line goes through the command table and is printed as plain text."""

    def __init__(self, services: Services, staff: Staff, *, input: InputFn, output: OutputFn) -> None:
        self.services = services
        self.staff = staff
        self._input = input
        self._output = output
        self._last_exchange: int | None = None
        self._state: dict[str, Any] = {}  # between lines, like Telegram's user_data (`Request.state`)

    # --- io -------------------------------------------------------------------------------------
    def say(self, html_text: str) -> None:
        self._output(to_plain(html_text))

    def ask_line(self, prompt: str) -> str:
        try:
            line = self._input(prompt)
        except (EOFError, KeyboardInterrupt):
            raise _Quit from None
        if line.strip() in {"/quit", "/exit"}:
            raise _Quit
        return line.strip()

    def request(self, args: str = "") -> Request:
        return Request(staff=self.staff, args=args, frontend=commands.CONSOLE, state=self._state)

    def show(self, reply: Reply) -> None:
        """Print a reply; a pick list asks for its number at once and runs the picked button."""
        if reply.choose and reply.keyboard:
            picked = self._pick(reply)
            if picked is not None:
                self.show(picked)
            return
        self.say(reply.text)
        if reply.photo:
            self._output(f"（图表已保存：{self._save_photo(reply.photo)}）")

    def _pick(self, reply: Reply) -> Reply | None:
        """Ask for the number of a pick list's option and run its button; None when another command was
        typed instead (it runs, the list is left)."""
        assert reply.keyboard is not None
        self.say(reply.text.splitlines()[0])  # the prompt; the buttons below are the list
        buttons = [b for row in reply.keyboard for b in row]
        for i, b in enumerate(buttons, 1):
            self._output(f"  [{i}] {b.text}")
        choice = self.ask_line("序号> ")
        if choice.startswith("/"):  # another command instead of a number: the list is left, the command runs
            self._output("（已放弃选择）")
            self.handle(choice)
            return None
        if not (choice.isdigit() and 1 <= int(choice) <= len(buttons)):
            raise ServiceError("无效的序号，已取消。")
        return commands.run_callback(self.services, buttons[int(choice) - 1].data, self.request())

    def _save_photo(self, png: bytes) -> Path:
        """A reply's image, written under RM_DATA_DIR/charts (the console cannot show it)."""
        folder = self.services.settings.ensure_data_dir() / "charts"
        return save_png(png, folder, now=self.services.clock.now(), prefix="chart")

    # --- loop -------------------------------------------------------------------------------------
    def run(self) -> None:
        while True:
            try:
                line = self.ask_line(f"{self.staff.name}> ")
                if line:
                    self.handle(line)
            except (_Quit, KeyboardInterrupt):  # /quit, Ctrl-D, or Ctrl-C (also while an answer is computed)
                self._output("再见！")
                return
            except ServiceError as exc:
                self._output(f"⚠️ {to_plain(exc.message)}")
            except Exception as exc:  # a console user should never see a traceback
                logger.debug("console command failed", exc_info=True)
                logger.error("console command failed: %s", exc)
                self.say(error_text())

    def handle(self, line: str) -> None:
        if not line.startswith("/"):
            self.question(line)
            return
        command, _, rest = line.partition(" ")
        name = command[1:].lower()
        row = commands.command_of(line)
        if row is not None and row.flow is not None:  # a conversation: its steps, driven here
            self.converse(row.name, rest.strip())
            return
        builtin = self._builtins().get(name)
        if builtin is not None:
            commands.check(commands.command(name), self.request())
            builtin(rest.strip())
            return
        if name == "check" and not rest.strip():  # a bare /check: the next line is the draft
            commands.check(commands.command("check"), self.request())
            rest = self.ask_line("要检查的客户消息> ")
            if not rest.strip() or rest.strip() == "/cancel":
                self._output("已取消。")
                return
        self.show(commands.run_command(self.services, name, self.request(rest.strip())))

    def _builtins(self) -> dict[str, Callable[[str], None]]:
        """Table rows the console implements itself (run=None in the table)."""
        return {
            "whoami": lambda _r: self.whoami(),
            "as": self.switch,
            "up": lambda _r: self.feedback("up"),
            "down": lambda _r: self.feedback("down"),
            "cancel": lambda _r: self._output("当前没有进行中的操作。"),
        }

    # --- commands ---------------------------------------------------------------------------------
    def whoami(self) -> None:
        s = self.staff
        self._output(
            f"当前身份：{s.name}（{role_name(s.role)}，工号 {s.code}）。"
            "切换身份：/as 工号（如 /as SUP01），或启动时用 rm-assistant chat --as 工号。"
        )

    def switch(self, code: str) -> None:
        if not code:
            raise ServiceError("用法：/as 工号，例如 /as SUP01")
        self.staff = self.services.staff.by_code(code)
        self._last_exchange = None
        self._state.clear()  # another person: nothing of the last one's waits
        self.whoami()

    def question(self, text: str) -> None:
        reply: Reply | None = ask_feature(self.services.ask, self.request(text))
        if reply is not None and reply.choose and reply.keyboard:  # "which 张伟?": then the answer
            reply = self._pick(reply)
        if reply is None:
            return
        self.say(reply.text)
        buttons = [b for row in reply.keyboard or () for b in row]
        self._last_exchange = int(buttons[0].data.rsplit(":", 1)[1]) if buttons else None
        if self._last_exchange is not None:
            self._output("（评价这条回答：/up 有帮助，/down 没帮助）")

    def feedback(self, value: str) -> None:
        if self._last_exchange is None:
            raise ServiceError("还没有可以评价的回答。")
        self.say(feedback_feature(self.services.ask, self.request(f"{value}:{self._last_exchange}")).text)

    def converse(self, name: str, rest: str) -> None:
        """Drive a conversation of the command table (`/log`): prompt, read, step, until it is done or
        cancelled; a command typed instead of an answer leaves it and runs."""
        row, step = commands.start_flow(self.services, name, self.request(rest))
        if not rest:
            self._output(f"{row.menu}（随时输入 /cancel 取消）")
        state, draft = step.state, step.draft
        self._print_step(step.replies)
        while state is not None:
            answer = self.ask_line(_prompt(step.replies[-1]) if step.replies else "> ")
            if answer == "/cancel":
                self._output("已取消。")
                return
            if answer.startswith("/"):  # a command is never a client name or a summary
                self._output(f"（/{row.name} 未保存，已取消）")
                self.handle(answer)
                return
            answer = _option(step.replies[-1], answer) if step.replies else answer
            try:
                step = commands.step_flow(self.services, row, self.request(answer), state, draft)
            except ServiceError as exc:
                self._output(f"⚠️ {to_plain(exc.message)}")
                continue
            state, draft = step.state, step.draft
            self._print_step(step.replies)

    def _print_step(self, replies: Sequence[Reply]) -> None:
        for reply in replies:
            self.say(reply.text)
            if reply.options and len(reply.options) > 3:
                for i, option in enumerate(reply.options, 1):
                    self._output(f"  [{i}] {option}")


def _prompt(reply: Reply) -> str:
    if reply.options and len(reply.options) <= 3:
        return "（" + " / ".join(reply.options) + "）> "
    return "序号或内容> " if reply.options else "> "


def _option(reply: Reply, answer: str) -> str:
    """A typed number picks the numbered option (long option lists are printed numbered)."""
    if (
        reply.options
        and len(reply.options) > 3
        and answer.isdigit()
        and 1 <= int(answer) <= len(reply.options)
    ):
        return reply.options[int(answer) - 1]
    return answer


def run_console(
    settings: Settings,
    *,
    staff_code: str | None = None,
    input: InputFn = builtins.input,
    output: OutputFn = builtins.print,
    services: Services | None = None,
) -> int:
    """Run the REPL until /quit or end of input; returns a process exit code (0 ok, 1 setup failed).

    `services` lets tests and the benchmark reuse already-open services; otherwise they are opened
    from `settings` (demo data on first run) and closed at the end.
    """
    from bot.composition import open_services

    owned = services is None
    try:
        if services is None:
            services = open_services(settings, demo_data=True, warm_up=True, announce=output)
    except Exception as exc:
        logger.debug("console setup failed", exc_info=True)
        output(f"启动失败：{exc}")
        return 1
    try:
        try:
            staff = (
                services.staff.first_rm(DEFAULT_STAFF_CODE)
                if staff_code is None
                else services.staff.by_code(staff_code)
            )
        except ServiceError as exc:
            output(exc.message)
            return 1
        session = ConsoleSession(services, staff, input=input, output=output)
        output(
            f"您好，{staff.name}！我是客户经理助手（控制台版）。"
            "直接输入问题即可，/help 查看全部命令，/quit 退出。"
        )
        session.whoami()
        session.run()
        return 0
    finally:
        if owned:
            services.close()
