"""The console twin of the Telegram bot: the same Assistant and renderers, in a terminal REPL.

This is what a new user runs first (`rm-assistant chat`, or `rm-assistant run` without a token): it
prepares the data directory, seeds the demo CRM when it has no staff, and indexes the bundled knowledge.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bot import render
from bot.services import Assistant, LogDraft, ServiceError, channel_choices, parse_channel
from crm_adapter import Client, Role, Staff

if TYPE_CHECKING:
    from bot.convlog import ConversationLog
    from bot.services import KnowledgeService
    from bot.settings import Settings
    from crm_adapter import CRMAdapter

logger = logging.getLogger(__name__)

#: Who you are when `--as` is omitted: the first demo RM.
DEFAULT_STAFF_CODE = "RM001"

InputFn = Callable[[str], str]
OutputFn = Callable[[str], None]


class _Quit(Exception):
    """The user asked to leave (or closed the input)."""


class ConsoleSession:
    """One REPL: dispatches each line to the Assistant and prints the plain-text rendering."""

    def __init__(self, assistant: Assistant, staff: Staff, *, input: InputFn, output: OutputFn) -> None:
        self.assistant = assistant
        self.staff = staff
        self._input = input
        self._output = output
        self._last_exchange: int | None = None

    # --- io -------------------------------------------------------------------------------------
    def say(self, html_text: str) -> None:
        self._output(render.to_plain(html_text))

    def ask_line(self, prompt: str) -> str:
        try:
            line = self._input(prompt)
        except (EOFError, KeyboardInterrupt):
            raise _Quit from None
        if line.strip() in {"/quit", "/exit"}:
            raise _Quit
        if line.strip() == "/cancel":
            raise ServiceError("已取消。")
        return line.strip()

    def pick(self, clients: Sequence[Client]) -> Client:
        # The console's stand-in for the Telegram pick buttons: one numbered line per client.
        self._output(f"找到 {len(clients)} 位客户，请输入序号选择（/cancel 取消）：")
        for i, c in enumerate(clients, 1):
            self._output(f"  [{i}] {c.name}（{c.pinyin}，{c.tier}，{c.client_id}）")
        choice = self.ask_line("序号> ")
        if choice.isdigit() and 1 <= int(choice) <= len(clients):
            return clients[int(choice) - 1]
        raise ServiceError("无效的序号，已取消。")

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
                self._output(f"⚠️ {exc.message}")
            except Exception as exc:  # a console user should never see a traceback
                logger.debug("console command failed", exc_info=True)
                logger.error("console command failed: %s", exc)
                self.say(render.error_text())

    def handle(self, line: str) -> None:
        if not line.startswith("/"):
            self.question(line)
            return
        command, _, rest = line.partition(" ")
        args = rest.split()
        handler = self._commands().get(command.lower())
        if handler is None:
            self._output("未知命令，输入 /help 查看可用命令。")
            return
        handler(rest.strip(), args)

    def _commands(self) -> dict[str, Callable[[str, list[str]], None]]:
        return {
            "/help": lambda _r, _a: self.say(render.help_text(self.staff, console=True)),
            "/start": lambda _r, _a: self.say(render.help_text(self.staff, console=True)),
            "/whoami": lambda _r, _a: self.whoami(),
            "/as": lambda r, _a: self.switch(r),
            "/client": lambda r, _a: self.client(r),
            "/log": lambda r, _a: self.log(r),
            "/today": lambda _r, _a: self.say(render.today(self.assistant.today_view(self.staff))),
            "/review": lambda _r, a: self.say(
                render.review(self.assistant.review(self.staff, a), tz=self.assistant.tz)
            ),
            "/unanswered": lambda _r, _a: self.say(
                render.unanswered(self.assistant.unanswered(self.staff), tz=self.assistant.tz)
            ),
            "/stats": lambda _r, a: self.say(render.stats(self.assistant.stats(self.staff, a))),
            "/kb": lambda r, _a: self.say(render.kb_hits(r, self.assistant.kb_search(self.staff, r))),
            "/up": lambda _r, _a: self.feedback("up"),
            "/down": lambda _r, _a: self.feedback("down"),
            "/cancel": lambda _r, _a: self._output("当前没有进行中的操作。"),
        }

    # --- commands ---------------------------------------------------------------------------------
    def whoami(self) -> None:
        s = self.staff
        self._output(
            f"当前身份：{s.name}（{render.role_name(s.role)}，工号 {s.code}）。"
            "切换身份：/as 工号（如 /as SUP01），或启动时用 rm-assistant chat --as 工号。"
        )

    def switch(self, code: str) -> None:
        if not code:
            raise ServiceError("用法：/as 工号，例如 /as SUP01")
        self.staff = self.assistant.staff_by_code(code)
        self._last_exchange = None
        self.whoami()

    def question(self, text: str) -> None:
        result = self.assistant.ask(self.staff, text, channel="console")
        reply = render.answer(result)
        self.say(reply.text)
        self._last_exchange = result.exchange_id
        if result.exchange_id is not None:
            self._output("（评价这条回答：/up 有帮助，/down 没帮助）")

    def feedback(self, value: str) -> None:
        if self._last_exchange is None:
            raise ServiceError("还没有可以评价的回答。")
        self.assistant.feedback(self.staff, self._last_exchange, value)
        self._output(render.feedback_ack(value))

    def client(self, query: str) -> None:
        matches = self.assistant.find_clients(self.staff, query)
        if not matches:
            self._output("没有找到匹配的客户。")
            return
        chosen = matches[0] if len(matches) == 1 else self.pick(matches)
        self.say(render.client_card(self.assistant.client_view(self.staff, chosen.client_id)))

    def log(self, rest: str) -> None:
        draft: LogDraft | None = (
            self.assistant.parse_log_line(self.staff, rest) if rest else self.guided_log()
        )
        if draft is None:
            return
        if draft.client is None:
            chosen = self.pick(draft.candidates)
            draft = LogDraft(
                client=chosen,
                channel=draft.channel,
                summary=draft.summary,
                next_follow_up=draft.next_follow_up,
            )
        result = self.assistant.log_contact(self.staff, draft, source="console", idempotency_key=None)
        self.say(render.log_saved(result))

    def guided_log(self) -> LogDraft | None:
        self._output("记录客户联系（随时输入 /cancel 取消）")
        resolved = self.assistant.resolve_client(self.staff, self.ask_line("客户姓名、拼音或客户号> "))
        client = resolved.client or self.pick(resolved.candidates)
        self._output(f"客户：{client.name}（{client.client_id}）")
        channel = None
        while channel is None:
            channel = parse_channel(self.ask_line(f"渠道（{channel_choices()}）> "))
            if channel is None:
                self._output(f"请从以下渠道中选择：{channel_choices()}")
        summary = ""
        while not summary:
            summary = self.ask_line("沟通摘要> ")
        follow = None
        while True:
            text = self.ask_line("下次跟进（如 2026-12-15、12-15、明天、下周一；直接回车跳过）> ")
            try:
                follow = self.assistant.parse_follow_up(text)
                break
            except ServiceError as exc:
                self._output(f"⚠️ {exc.message}")
        draft = LogDraft(client=client, channel=channel, summary=summary, next_follow_up=follow)
        self.say(render.log_draft(draft))
        if self.ask_line("确认保存？(y/n)> ").lower() not in {"y", "yes", "是", "确认", "好", ""}:
            self._output("已取消。")
            return None
        return draft


def prepare(settings: Settings, *, output: OutputFn) -> tuple[KnowledgeService, CRMAdapter, ConversationLog]:
    """First-run setup: data dir, demo CRM data when there is no staff, the bundled knowledge base."""
    from bot.convlog import ConversationLog
    from bot.crm_wiring import open_crm
    from bot.kb_wiring import open_knowledge_base
    from crm_adapter.demo import seed_demo

    settings.ensure_data_dir()
    crm = open_crm(settings)
    if not crm.list_staff():
        output("首次运行：正在写入演示客户数据…")
        seed_demo(crm)
    output("正在准备知识库…")
    knowledge_base = open_knowledge_base(settings)
    knowledge_base.warm_up()  # load the model and indexes now, so the first question is as fast as the rest
    kb: KnowledgeService = knowledge_base
    log = ConversationLog(settings.effective_database_url)
    return kb, crm, log


def run_console(
    settings: Settings,
    *,
    staff_code: str | None = None,
    input: InputFn = builtins.input,
    output: OutputFn = builtins.print,
    services: tuple[KnowledgeService, CRMAdapter, ConversationLog] | None = None,
) -> int:
    """Run the REPL until /quit or end of input; returns a process exit code (0 ok, 1 setup failed).

    `services` (kb, crm, log) lets tests and the benchmark reuse already-open services; otherwise they
    are opened from `settings` and closed at the end.
    """
    owned = services is None
    try:
        kb, crm, log = services if services is not None else prepare(settings, output=output)
    except Exception as exc:
        logger.debug("console setup failed", exc_info=True)
        output(f"启动失败：{exc}")
        return 1
    try:
        assistant = Assistant(kb=kb, crm=crm, log=log, timezone=settings.rm_timezone)
        try:
            staff = (
                _default_staff(assistant, crm) if staff_code is None else assistant.staff_by_code(staff_code)
            )
        except ServiceError as exc:
            output(exc.message)
            return 1
        session = ConsoleSession(assistant, staff, input=input, output=output)
        output(
            f"您好，{staff.name}！我是客户经理助手（控制台版）。"
            "直接输入问题即可，/help 查看全部命令，/quit 退出。"
        )
        session.whoami()
        session.run()
        return 0
    finally:
        if owned:
            _close(log, crm, kb)


def _default_staff(assistant: Assistant, crm: CRMAdapter) -> Staff:
    """RM001 (the first demo RM) when it exists, else the first registered RM."""
    try:
        return assistant.staff_by_code(DEFAULT_STAFF_CODE)
    except ServiceError:
        rms = sorted((s for s in crm.list_staff() if s.role == Role.RM), key=lambda s: s.code)
        if not rms:
            raise ServiceError(
                "还没有登记任何客户经理，请用 rm-assistant chat --as 工号 指定身份。"
            ) from None
        return rms[0]


def _close(*services: Any) -> None:
    for service in services:
        close = getattr(service, "close", None)
        if close is None:
            continue
        try:
            close()
        except Exception:
            logger.debug("closing %r failed", service, exc_info=True)
