"""The one command table: every chat command, who may use it, where, and what it shows.

Telegram's menus, `/help`, the console twin's commands and the access checks are all generated from
`COMMANDS` and `CALLBACKS`, so they cannot drift. A new command is one row here and one handler
function in its feature module under `bot/features/`.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.core import Request, ServiceError
from bot.features import (
    approvals,
    ask,
    benefits,
    clients,
    contact_log,
    gaps,
    knowledge_admin,
    message_check,
    supervision,
    today,
)
from bot.features.knowledge_admin import INGESTIBLE_SUFFIXES
from bot.rendering import Reply, esc, group_refusal, role_name
from bot.roles import (
    APPROVERS,
    CLIENT_READERS,
    CONTACT_WRITERS,
    DAY_VIEWERS,
    EVERYONE,
    GAP_READERS,
    KNOWLEDGE_KEEPERS,
    SUPERVISORS,
)
from crm_adapter import Role, Staff

if TYPE_CHECKING:
    from bot.composition import Services

logger = logging.getLogger(__name__)

#: A feature handler: its feature service (named by the row's `service`) and the request → the reply.
Handler = Callable[[Any, Request], Reply]

TELEGRAM, CONSOLE = "telegram", "console"
BOTH = frozenset({TELEGRAM, CONSOLE})


@dataclass(frozen=True, slots=True)
class Flow:
    """A conversation a front end drives with the feature's own steps: `start(service, req)` takes the
    command's message, `step(service, req, state, draft)` each answer; both return a step with
    `replies`, the next `state` (None: over) and the `draft` to keep (`bot.features.contact_log.Step`)."""

    start: Callable[[Any, Request], Any]
    step: Callable[[Any, Request, int, Any], Any]


@dataclass(frozen=True, slots=True)
class Command:
    """One row of the table.

    `run` is None where the front end implements the command itself (`/cancel` ends a conversation,
    the console's `/as` switches identity) or drives its `flow` (`/log`); either is called with the
    `Services` attribute named by `service` (None: no service). `menu` is the Telegram menu text
    ("" = not in the menu); `usage` is the `/help` line (the command name is prepended).
    """

    name: str
    roles: frozenset[Role]
    menu: str
    usage: str
    run: Handler | None = None
    service: str | None = None
    private_only: bool = False
    frontends: frozenset[str] = BOTH
    public: bool = False  # also offered to people who are not registered staff (/start, /help)
    kind: str = "command"  # "document": not a command but a file sent to the bot (help line only)
    #: A conversation the front end drives (later messages answer it, `/cancel` ends it).
    flow: Flow | None = None
    #: The one line when the command cannot be taken at all (the bot's gate failed); "" = the general one.
    unavailable: str = ""


@dataclass(frozen=True, slots=True)
class Callback:
    """An inline button's handler, keyed by the prefix of its callback data (`prefix:payload`)."""

    prefix: str
    roles: frozenset[Role]
    run: Handler
    service: str
    private_only: bool = False


def start(_svc: None, req: Request) -> Reply:
    """Greet the staff member."""
    s = req.staff
    return Reply(
        f"您好，<b>{esc(s.name)}</b>（{esc(role_name(s.role))}，工号 {esc(s.code)}）！\n"
        "我是客户经理助手：直接发问题，我会从知识库中查找答案并标注出处。\n"
        "发送 /help 查看全部功能。"
    )


def help_(_svc: None, req: Request) -> Reply:
    """Show what this staff member can do here."""
    return Reply(help_text(req.staff.role, req.frontend))


COMMANDS: tuple[Command, ...] = (
    Command("start", EVERYONE, "开始使用", "开始使用", start, public=True),
    Command("help", EVERYONE, "使用说明", " — 使用说明", help_, public=True),
    Command("client", CLIENT_READERS, "查看客户卡片：/client 姓名或拼音", " 姓名或拼音 — 查看客户卡片",
            clients.client, "clients", private_only=True),
    Command("log", CONTACT_WRITERS, "记录客户联系",
            " — 记录客户联系（引导填写）；或一行：/log 张伟 电话 客户关注海外配置 下次:2026-12-15",
            service="contacts", private_only=True, flow=Flow(contact_log.start, contact_log.step),
            unavailable=contact_log.NOT_SAVED),
    Command("check", CLIENT_READERS, "发送前检查客户消息",
            " [客户] 消息 — 发给客户前检查：承诺收益、夸大、存款混淆、催促、隐私与适当性，附合规改写",
            message_check.check, "message_check", private_only=True),
    # Benefit ledger (issue #21): supervisors read (`/used 张伟`, `/brief`); the CRM refuses their writes.
    Command("used", CLIENT_READERS, "登记权益使用：/used 张伟 专家挂号",
            " 客户 权益 [日期] [备注] — 登记一次权益使用（超出次数先提示）；只写客户：今年权益余量",
            benefits.used, "benefits", private_only=True),
    Command("brief", CLIENT_READERS, "会前简报：/brief 张伟",
            " 姓名或拼音 — 会前简报（权益余量、合规、最近联系、话题建议）",
            benefits.brief, "brief", private_only=True),
    # Supervisors get the same day view of their team's clients (the CRM's scopes decide).
    Command("today", DAY_VIEWERS, "今日待回访、生日与KYC复核",
            " — 今日待办（按紧急程度）：逾期回访、KYC 复核、风险测评、生日、年底未用权益",
            today.today, "today", private_only=True),
    Command("done", CONTACT_WRITERS, "标记待办完成：/done 3", " 编号 [说明] — 标记今日待办已完成",
            today.done, "today", private_only=True),
    Command("skip", CONTACT_WRITERS, "跳过待办：/skip 3 原因", " 编号 原因 — 跳过今日待办（须写原因）",
            today.skip, "today", private_only=True),
    Command("review", SUPERVISORS, "团队复盘（主管）",
            " [工号] [日期范围] [第N页] — 团队问答与联系记录复盘（未复核、需关注的在前）",
            supervision.review, "supervision", private_only=True),
    Command("reviewed", SUPERVISORS, "标记已复核：/reviewed Q12 C7 M3",
            " Q12 C7 M3 … — 标记为已复核（可写多个；M 为消息检查）",
            supervision.reviewed, "supervision", private_only=True),
    Command("note", SUPERVISORS, "评论：/note Q12 内容", " Q12 内容 — 评论一条问答、联系记录或消息检查（M3）",
            supervision.note, "supervision", private_only=True),
    Command("escalate", SUPERVISORS, "转交培训师：/escalate Q12 原因", " Q12 原因 — 回答有误，转交培训师",
            supervision.escalate, "supervision", private_only=True),
    Command("unanswered", GAP_READERS, "知识缺口（按含义归组）",
            " — 知识缺口：未能回答、依据较弱、👎 的问题按含义归组，问得最多的在前",
            gaps.unanswered, "gaps", private_only=True),
    Command("stats", GAP_READERS, "使用统计", " [日期范围] — 使用统计（附图表）",
            supervision.stats, "supervision", private_only=True),
    Command("handoffs", KNOWLEDGE_KEEPERS, "主管转交的问答（培训师）", " — 主管转交、待处理的问答",
            supervision.handoffs, "supervision", private_only=True),
    Command("resolved", KNOWLEDGE_KEEPERS, "转交已处理：/resolved Q12 说明", " Q12 说明 — 标记主管转交已处理",
            supervision.resolved, "supervision", private_only=True),
    Command("curate", KNOWLEDGE_KEEPERS, "写审定答案：/curate 1 答案",
            " 组号或Q12 答案内容 [来源：文件名] — 为知识缺口写审定答案（他人批准后，相近问题直接用它回答）",
            gaps.curate, "gaps", private_only=True),
    Command("kbusage", KNOWLEDGE_KEEPERS, "知识库使用情况（培训师）",
            " — 审定答案与文档的命中次数、90 天未被引用的文档", gaps.kbusage, "gaps", private_only=True),
    Command("uncurate", KNOWLEDGE_KEEPERS, "停用审定答案：/uncurate A3",
            " A3 — 停用一条审定答案，或撤回待审批的（编号见 /kbusage）",
            gaps.uncurate, "gaps", private_only=True),
    Command("kb", KNOWLEDGE_KEEPERS, "查看检索原文（培训师）", " 查询 — 查看检索原文与得分",
            knowledge_admin.kb, "knowledge"),
    Command("upload", KNOWLEDGE_KEEPERS, "", " 文件路径 — 提交本机文档（他人批准后加入知识库）",
            approvals.upload, "approvals", frontends=frozenset({CONSOLE})),
    Command("document", KNOWLEDGE_KEEPERS, "",
            "发送 " + "/".join(INGESTIBLE_SUFFIXES) + " 文档 — 提交知识库变更（需他人批准）",
            frontends=frozenset({TELEGRAM}), kind="document"),
    Command("changes", APPROVERS, "知识库变更审批",
            " [K3|A3 [页码]] — 待审批与最近的变更；带编号显示全文（读完才能批准）",
            approvals.changes, "approvals", private_only=True),
    Command("approve", APPROVERS, "批准变更：/approve K3", " K3 或 A3 — 批准他人提交的知识库变更或审定答案",
            approvals.approve, "approvals", private_only=True),
    Command("reject", APPROVERS, "驳回变更：/reject K3 理由",
            " K3 或 A3 理由 — 驳回（或撤回自己提交的）知识库变更或审定答案",
            approvals.reject, "approvals", private_only=True),
    Command("cancel", EVERYONE, "取消当前操作", " — 取消当前操作"),
    Command("whoami", EVERYONE, "", " — 当前身份", frontends=frozenset({CONSOLE})),
    Command("as", EVERYONE, "", " 工号 — 切换身份（如 /as SUP01）", frontends=frozenset({CONSOLE})),
    Command("up", EVERYONE, "", " / /down — 评价上一条回答", frontends=frozenset({CONSOLE})),
    Command("down", EVERYONE, "", "", frontends=frozenset({CONSOLE})),
    Command("quit", EVERYONE, "", " — 退出", frontends=frozenset({CONSOLE})),
)  # fmt: skip

CALLBACKS: tuple[Callback, ...] = (
    Callback("fb", EVERYONE, ask.feedback, "ask"),
    Callback("askc", CLIENT_READERS, ask.ask_about, "ask", private_only=True),
    Callback("client", CLIENT_READERS, clients.client_pick, "clients", private_only=True),
    Callback("bu", CONTACT_WRITERS, benefits.used_button, "benefits", private_only=True),
    Callback("bulog", CONTACT_WRITERS, benefits.used_from_log, "benefits", private_only=True),
    Callback("rv", SUPERVISORS, supervision.review_page, "supervision", private_only=True),
    Callback("rvall", SUPERVISORS, supervision.review_page_done, "supervision", private_only=True),
    Callback("rvok", SUPERVISORS, supervision.review_item_done, "supervision", private_only=True),
    Callback("rvup", SUPERVISORS, supervision.review_item_escalate, "supervision", private_only=True),
    Callback("rvfix", KNOWLEDGE_KEEPERS, supervision.resolve_button, "supervision", private_only=True),
    Callback("kcok", APPROVERS, approvals.approve_button, "approvals", private_only=True),
    Callback("kcno", APPROVERS, approvals.reject_button, "approvals", private_only=True),
    Callback("kcv", APPROVERS, approvals.view_button, "approvals", private_only=True),
)

_BY_NAME = {c.name: c for c in COMMANDS}
_CALLBACKS = {c.prefix: c for c in CALLBACKS}


def command(name: str) -> Command:
    return _BY_NAME[name]


#: A chat command as Telegram sends it: `/log`, `/log@SomeBot`, then a space or the end.
_COMMAND_TEXT = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@\w+)?(?=\s|$)")


def command_of(text: str) -> Command | None:
    """The table row a message's text runs (`/log 张伟 …` → log); None for no command or an unknown one
    (`/login` is not `/log`)."""
    m = _COMMAND_TEXT.match(text)
    return _BY_NAME.get(m.group(1).lower()) if m else None


def flows() -> tuple[Command, ...]:
    """The commands that are conversations the front end drives (`/log`)."""
    return tuple(c for c in COMMANDS if c.flow is not None)


def callback(data: str) -> tuple[Callback, str] | None:
    """The handler of a button's callback data and its payload; None for unknown data."""
    prefix, sep, payload = data.partition(":")
    found = _CALLBACKS.get(prefix)
    return (found, payload) if found is not None and sep else None


def commands_for(role: Role | None, frontend: str) -> tuple[Command, ...]:
    """The commands a role may use on a front end, in table order; None = not registered (public only)."""
    return tuple(
        c for c in COMMANDS if frontend in c.frontends and (c.public if role is None else role in c.roles)
    )


def menu_for(role: Role | None) -> tuple[tuple[str, str], ...]:
    """Telegram menu entries (command, Chinese description) of a role's private chat; None = strangers."""
    return tuple((c.name, c.menu) for c in commands_for(role, TELEGRAM) if c.menu and c.kind == "command")


def help_text(role: Role, frontend: str) -> str:
    lines = ["<b>使用说明</b>", "直接输入问题：从知识库回答并标注出处（可 👍/👎 评价）"]
    for c in commands_for(role, frontend):
        if c.usage and c.name != "start":
            lines.append(f"/{c.name}{esc(c.usage)}" if c.kind == "command" else esc(c.usage))
    return "\n".join(lines)


def check_access(
    roles: Iterable[Role], staff: Staff, *, private_only: bool, private: bool, name: str
) -> None:
    """Refuse (ServiceError) a command or button the staff member may not use here."""
    allowed = frozenset(roles)
    if staff.role not in allowed:
        who = "、".join(role_name(r) for r in Role if r in allowed)
        raise ServiceError(f"{name} 仅供{who}使用，您的角色（{role_name(staff.role)}）不能使用。")
    if private_only and not private:
        raise ServiceError(group_refusal())


def check(row: Command, req: Request) -> None:
    """Refuse (ServiceError) table row `row` for this request's staff member and chat."""
    label = f"/{row.name}" if row.kind == "command" else "上传知识库文档"
    check_access(row.roles, req.staff, private_only=row.private_only, private=req.private, name=label)


def run_command(services: Services, name: str, req: Request) -> Reply:
    """Dispatch a command through the table: access check, then its feature handler."""
    row = _BY_NAME.get(name)
    if row is None or row.run is None or req.frontend not in row.frontends:
        raise ServiceError("未知命令，发送 /help 查看可用命令。")
    check(row, req)
    return row.run(getattr(services, row.service) if row.service else None, req)


def start_flow(services: Services, name: str, req: Request) -> tuple[Command, Any]:
    """Begin a conversation through the table: access check, then its feature's first step; returns the
    row (to feed the next answers to, `step_flow`) and that step."""
    row = _BY_NAME.get(name)
    if row is None or row.flow is None or req.frontend not in row.frontends:
        raise ServiceError("未知命令，发送 /help 查看可用命令。")
    check(row, req)
    return row, row.flow.start(getattr(services, row.service) if row.service else None, req)


def step_flow(services: Services, row: Command, req: Request, state: int, draft: Any) -> Any:
    """Feed one answer to a conversation `start_flow` began (a ServiceError leaves its state as it was)."""
    assert row.flow is not None
    return row.flow.step(getattr(services, row.service) if row.service else None, req, state, draft)


def run_callback(services: Services, data: str, req: Request) -> Reply:
    """Dispatch a button press through the table (the payload replaces `req.args`)."""
    found = callback(data)
    if found is None:
        raise ServiceError("这个按钮已失效。")
    row, payload = found
    check_access(row.roles, req.staff, private_only=row.private_only, private=req.private, name="该按钮")
    return row.run(getattr(services, row.service), dataclasses.replace(req, args=payload))
