"""The assistant's use cases, shared by the Telegram bot and the console twin.

Handlers stay thin: they parse the chat input, call one method here, and hand the result to a pure
renderer (`bot.render`). Every role check happens here as well (defence in depth; the CRM enforces its
own scopes too), and every failure the user should see is a `ServiceError` carrying a Chinese message.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar
from zoneinfo import ZoneInfo

from bot import compliance
from bot.convlog import FeedbackError
from crm_adapter import (
    AccessDenied,
    BirthdayReminder,
    Channel,
    Client,
    ClientCard,
    ContactRecord,
    CRMAdapter,
    CRMError,
    FollowUp,
    InvalidInput,
    NewContact,
    NotFound,
    Role,
    Staff,
    UnknownStaff,
)

if TYPE_CHECKING:
    from bot.convlog import ConversationLog, Exchange, LogStats, UnansweredQuestion
    from knowledge import Answer, Hit, IngestReport

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

#: Longest question we pass on to the knowledge base (Telegram allows 4096 characters).
MAX_QUESTION_CHARS = 1000
#: File types the knowledge base can ingest.
INGESTIBLE_SUFFIXES = (".md", ".txt", ".docx", ".pdf", ".csv")
#: How long a Telegram-id → staff lookup is trusted before asking the CRM again.
STAFF_CACHE_SECONDS = 30.0

#: Chat words for contact channels, including common aliases RMs type.
CHANNEL_ALIASES: dict[str, Channel] = {
    "电话": Channel.PHONE,
    "打电话": Channel.PHONE,
    "通话": Channel.PHONE,
    "来电": Channel.PHONE,
    "致电": Channel.PHONE,
    "phone": Channel.PHONE,
    "面谈": Channel.MEETING,
    "见面": Channel.MEETING,
    "面见": Channel.MEETING,
    "拜访": Channel.MEETING,
    "上门": Channel.MEETING,
    "会面": Channel.MEETING,
    "meeting": Channel.MEETING,
    "微信": Channel.WECHAT,
    "wechat": Channel.WECHAT,
    "短信": Channel.SMS,
    "sms": Channel.SMS,
    "邮件": Channel.EMAIL,
    "电邮": Channel.EMAIL,
    "email": Channel.EMAIL,
    "活动": Channel.EVENT,
    "沙龙": Channel.EVENT,
    "event": Channel.EVENT,
}

_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_FOLLOW_UP_PREFIX = re.compile(r"^(?:下次|回访|跟进)[:：]\s*(.*)$")
_CLIENT_CHOICE = re.compile(r"[（(]\s*([A-Za-z0-9_-]+)\s*[)）]\s*$")


class ServiceError(Exception):
    """A failure to show to the user as is (the message is Chinese and safe to display)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class KnowledgeService(Protocol):
    """What the assistant needs from `knowledge.KnowledgeBase`: `ask` and `search` must be safe to call
    from several threads at once (the bot answers RMs in parallel worker threads)."""

    def ask(self, question: str) -> Answer: ...

    def search(self, query: str, *, top_k: int | None = None, mode: str = "hybrid") -> list[Hit]: ...

    def ingest(self, paths: Sequence[Path], *, progress: bool = False) -> IngestReport: ...


# --- results handed to the renderers --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AskResult:
    answer: Answer
    exchange_id: int | None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ClientView:
    card: ClientCard
    entitlements: tuple[Hit, ...] = ()


@dataclass(frozen=True, slots=True)
class LogDraft:
    """A contact record being assembled (from the one-line form or the guided flow)."""

    client: Client | None = None
    candidates: tuple[Client, ...] = ()  # several clients matched: the user must pick one
    channel: Channel | None = None
    summary: str = ""
    next_follow_up: date | None = None

    @property
    def complete(self) -> bool:
        return self.client is not None and self.channel is not None and bool(self.summary)

    def to_state(self) -> dict[str, object]:
        """Plain data for conversation persistence (pickled by PTB)."""
        return {
            "client_id": self.client.client_id if self.client else None,
            "candidates": [c.client_id for c in self.candidates],
            "channel": self.channel.value if self.channel else None,
            "summary": self.summary,
            "next_follow_up": self.next_follow_up.isoformat() if self.next_follow_up else None,
        }


@dataclass(frozen=True, slots=True)
class LogResult:
    record: ContactRecord
    client: Client
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TodayView:
    staff: Staff
    today: date
    follow_ups: tuple[FollowUp, ...]
    birthdays: tuple[BirthdayReminder, ...]


@dataclass(frozen=True, slots=True)
class FlaggedContact:
    record: ContactRecord
    flags: tuple[str, ...]

    @property
    def flagged(self) -> bool:
        return bool(self.flags)


@dataclass(frozen=True, slots=True)
class ReviewView:
    since: date
    until: date  # inclusive
    staff_codes: tuple[str, ...]
    names: dict[str, str]
    exchanges: tuple[Exchange, ...]
    contacts: tuple[FlaggedContact, ...]


@dataclass(frozen=True, slots=True)
class StatsView:
    since: date
    until: date
    stats: LogStats
    contacts: int
    contacts_by_staff: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UnansweredView:
    since: date
    items: tuple[UnansweredQuestion, ...]


# --- the façade ----------------------------------------------------------------------------------
class Assistant:
    """Every use case of the bot and the console, behind one object (thread-safe)."""

    def __init__(
        self,
        *,
        kb: KnowledgeService,
        crm: CRMAdapter,
        log: ConversationLog,
        timezone: str = "Asia/Shanghai",
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.kb = kb
        self.crm = crm
        self.log = log
        self.tz = ZoneInfo(timezone)
        self._now = now or (lambda: datetime.now(UTC))
        # Uploads are ingested one at a time (with the entitlement cache cleared in step); questions and
        # searches run concurrently: `KnowledgeService` implementations are thread-safe for reads.
        self._ingest_lock = threading.Lock()
        self._staff_cache: dict[int, tuple[float, Staff | None]] = {}
        self._entitlements: dict[str, tuple[Hit, ...]] = {}

    # --- clock -------------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self._now().astimezone(self.tz)

    def today(self) -> date:
        return self.now().date()

    # --- identity ----------------------------------------------------------------------------------
    def cached_staff(self, telegram_id: int) -> tuple[bool, Staff | None]:
        """`(True, staff_for_telegram(id))` when the answer is cached (no database access), else
        `(False, None)`: lets async callers skip a worker-thread hop on the common path."""
        hit = self._staff_cache.get(telegram_id)
        if hit is not None and time.monotonic() - hit[0] < STAFF_CACHE_SECONDS:
            return True, hit[1]
        return False, None

    def staff_for_telegram(self, telegram_id: int) -> Staff | None:
        """The registered staff member behind a Telegram account, or None."""
        cached, staff = self.cached_staff(telegram_id)
        if cached:
            return staff
        staff = self.crm.get_staff_by_telegram_id(telegram_id=telegram_id)
        if len(self._staff_cache) > 10_000:  # unknown users are cached too; keep the cache bounded
            self._staff_cache.clear()
        self._staff_cache[telegram_id] = (time.monotonic(), staff)
        return staff

    def staff_by_code(self, code: str) -> Staff:
        try:
            return self.crm.get_staff(code=code.strip().upper())
        except NotFound:
            raise ServiceError(f"没有工号为 {code} 的员工。") from None

    def staff_with_telegram(self) -> list[Staff]:
        """Active staff who have a Telegram account (each gets a command menu for their role)."""
        return [s for s in self.crm.list_staff() if s.telegram_id is not None]

    def digest_recipients(self) -> list[Staff]:
        """RMs who have a Telegram account (they get the morning digest)."""
        return [s for s in self.crm.list_staff() if s.role == Role.RM and s.telegram_id is not None]

    # --- knowledge -------------------------------------------------------------------------------
    def ask(
        self,
        staff: Staff,
        question: str,
        *,
        channel: str,
        chat_id: int | None = None,
        update_id: int | None = None,
    ) -> AskResult:
        """Answer a question from the knowledge base and record the exchange."""
        question = " ".join(question.split())
        if not question:
            raise ServiceError("请直接输入您的问题，例如：钻石客户有哪些增值服务？")
        if len(question) > MAX_QUESTION_CHARS:
            raise ServiceError(f"问题太长了（{len(question)} 字），请精简到 {MAX_QUESTION_CHARS} 字以内。")
        answer = self.kb.ask(question)
        flags = compliance.check(question)
        exchange = self.log.record(
            staff_code=staff.code,
            channel=channel,
            question=question,
            answer=answer,
            chat_id=chat_id,
            update_id=update_id,
            flags=flags,
        )
        return AskResult(answer=answer, exchange_id=exchange.id, flags=flags)

    def feedback(self, staff: Staff, exchange_id: int, value: str) -> Exchange:
        """Store 👍/👎 on one of the staff member's own exchanges."""
        try:
            return self.log.set_feedback(exchange_id=exchange_id, staff_code=staff.code, value=value)
        except FeedbackError as exc:
            raise ServiceError(str(exc)) from None

    def kb_search(self, staff: Staff, query: str, *, top_k: int = 5) -> list[Hit]:
        """Raw retrieval hits with scores (trainers check what the assistant would cite)."""
        _require(staff, (Role.TRAINER, Role.ADMIN), "只有培训师和管理员可以查看检索原文。")
        query = " ".join(query.split())
        if not query:
            raise ServiceError("用法：/kb 查询内容，例如 /kb 钻石客户 增值服务")
        return self.kb.search(query, top_k=top_k)

    def check_ingest(self, staff: Staff, filename: str) -> None:
        """Refuse early (before any download) when the staff member or the file type may not be ingested."""
        _require(staff, (Role.TRAINER, Role.ADMIN), "只有培训师和管理员可以上传知识库文档。")
        if Path(filename).suffix.lower() not in INGESTIBLE_SUFFIXES:
            raise ServiceError("只支持上传 " + " / ".join(INGESTIBLE_SUFFIXES) + " 格式的文档。")

    def ingest_document(self, staff: Staff, path: Path) -> IngestReport:
        """Add an uploaded document to the knowledge base (trainers and admins only)."""
        self.check_ingest(staff, path.name)
        with self._ingest_lock:
            report = self.kb.ingest([path])
            self._entitlements.clear()
        return report

    def tier_entitlements(self, tier: str) -> tuple[Hit, ...]:
        """Knowledge-base passages on a tier's value-added services (cached until the next ingest)."""
        cached = self._entitlements.get(tier)
        if cached is not None:
            return cached
        hits = self.kb.search(f"{tier}客户 增值服务 权益", top_k=6)
        picked = tuple(h for h in hits if tier in h.text or tier in h.heading)[:3]
        self._entitlements[tier] = picked
        return picked

    # --- clients -----------------------------------------------------------------------------------
    def find_clients(self, staff: Staff, query: str, *, limit: int = 10) -> list[Client]:
        query = query.strip()
        if not query:
            raise ServiceError("用法：/client 客户姓名、拼音或客户号，例如 /client 张伟")
        return self._crm(lambda: self.crm.search_clients(actor=staff.code, query=query, limit=limit))

    def client_view(self, staff: Staff, client_id: str) -> ClientView:
        card = self._crm(
            lambda: self.crm.client_card(actor=staff.code, client_id=client_id, today=self.today())
        )
        try:
            entitlements = self.tier_entitlements(str(card.client.tier))
        except Exception:  # the card is still useful without the knowledge-base extract
            logger.exception("entitlement lookup failed for tier %s", card.client.tier)
            entitlements = ()
        return ClientView(card=card, entitlements=entitlements)

    def resolve_client(self, staff: Staff, query: str) -> LogDraft:
        """Match a name / pinyin / client id (or a picked "姓名 (客户号)") to one client or candidates."""
        query = query.strip()
        picked = _CLIENT_CHOICE.search(query)
        if picked:
            query = picked.group(1)
        clients = self.find_clients(staff, query)
        if not clients:
            raise ServiceError(f"没有找到客户“{query}”，请检查姓名、拼音或客户号。")
        exact = [c for c in clients if query.upper() == c.client_id.upper()]
        exact = exact or [
            c for c in clients if query in (c.name, c.pinyin) or query.lower() == c.pinyin.lower()
        ]
        if len(exact) == 1:
            return LogDraft(client=exact[0])
        if len(clients) == 1:
            return LogDraft(client=clients[0])
        return LogDraft(candidates=tuple(exact or clients))

    # --- contact records -----------------------------------------------------------------------
    def parse_log_line(self, staff: Staff, text: str) -> LogDraft:
        """Parse `张伟 电话 关注海外配置 下次:2026-12-15`: client, channel, summary, optional follow-up."""
        tokens = text.split()
        if len(tokens) < 3:
            raise ServiceError(
                "格式：/log 客户 渠道 摘要 [下次:日期]\n例如：/log 张伟 电话 客户关注海外配置 下次:2026-12-15"
            )
        follow_up: date | None = None
        rest: list[str] = []
        for token in tokens[2:]:
            m = _FOLLOW_UP_PREFIX.match(token)
            if m:
                follow_up = self.parse_follow_up(m.group(1))
            else:
                rest.append(token)
        channel = parse_channel(tokens[1])
        if channel is None:
            raise ServiceError(f"无法识别联系渠道“{tokens[1]}”，可选：{channel_choices()}。")
        summary = " ".join(rest).strip()
        if not summary:
            raise ServiceError("请填写沟通摘要，例如：客户关注海外配置。")
        draft = self.resolve_client(staff, tokens[0])
        return LogDraft(
            client=draft.client,
            candidates=draft.candidates,
            channel=channel,
            summary=summary,
            next_follow_up=follow_up,
        )

    def parse_follow_up(self, text: str) -> date | None:
        """A follow-up date: 2026-12-15, 12-15, 12月15日, 明天, 后天, 下周一, 3天后; 不需要/跳过 → None."""
        text = text.strip().replace("／", "/")
        if text in {"", "无", "不需要", "跳过", "不用", "skip", "-"}:
            return None
        today = self.today()
        result: date | None = None
        if text in {"今天"}:
            result = today
        elif text in {"明天", "明日"}:
            result = today + timedelta(days=1)
        elif text in {"后天"}:
            result = today + timedelta(days=2)
        elif m := re.fullmatch(r"(\d{1,3})\s*天后", text):
            result = today + timedelta(days=int(m.group(1)))
        elif m := re.fullmatch(r"(下)?(?:周|星期|礼拜)([一二三四五六日天])", text):
            target = _WEEKDAYS[m.group(2)]
            if m.group(1):
                monday_next = today + timedelta(days=7 - today.weekday())
                result = monday_next + timedelta(days=target)
            else:
                delta = (target - today.weekday()) % 7 or 7
                result = today + timedelta(days=delta)
        elif m := re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", text):
            result = _date_or_none(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        elif m := re.fullmatch(r"(\d{1,2})[-/.月](\d{1,2})日?", text):
            month, day = int(m.group(1)), int(m.group(2))
            result = _date_or_none(today.year, month, day)
            if result is not None and result < today:
                result = _date_or_none(today.year + 1, month, day)
        if result is None:
            raise ServiceError(f"无法识别日期“{text}”，可写 2026-12-15、12-15、明天 或 下周一。")
        if result < today:
            raise ServiceError("下次跟进日期不能早于今天。")
        return result

    def draft_from_state(self, staff: Staff, state: dict[str, object]) -> LogDraft:
        """Rebuild a persisted draft (client re-read through the CRM so scopes still apply)."""
        client_id = state.get("client_id")
        client = (
            self._crm(lambda: self.crm.get_client(actor=staff.code, client_id=str(client_id)))
            if client_id
            else None
        )
        channel = state.get("channel")
        follow = state.get("next_follow_up")
        return LogDraft(
            client=client,
            channel=Channel(str(channel)) if channel else None,
            summary=str(state.get("summary") or ""),
            next_follow_up=date.fromisoformat(str(follow)) if follow else None,
        )

    def log_contact(
        self, staff: Staff, draft: LogDraft, *, source: str, idempotency_key: str | None
    ) -> LogResult:
        """Write the contact record (idempotent by key) and run the compliance check on its summary."""
        if draft.client is None or draft.channel is None or not draft.summary:
            raise ServiceError("联系记录还不完整，请补充客户、渠道和摘要。")
        summary = " ".join(draft.summary.split())
        flags = compliance.check(summary)
        contact = NewContact(
            client_id=draft.client.client_id,
            channel=draft.channel,
            summary=summary,
            occurred_at=self._now(),
            next_follow_up=draft.next_follow_up,
            source=source,
            idempotency_key=idempotency_key,
        )
        client = draft.client
        record = self._crm(lambda: self.crm.create_contact(actor=staff.code, contact=contact))
        return LogResult(record=record, client=client, flags=flags)

    # --- today / digest --------------------------------------------------------------------------
    def today_view(self, staff: Staff) -> TodayView:
        today = self.today()
        follow_ups = self._crm(lambda: self.crm.follow_ups(actor=staff.code, today=today))
        birthdays = self._crm(lambda: self.crm.upcoming_birthdays(actor=staff.code, days=7, today=today))
        return TodayView(staff=staff, today=today, follow_ups=tuple(follow_ups), birthdays=tuple(birthdays))

    # --- supervision -------------------------------------------------------------------------------
    def review(self, staff: Staff, args: Sequence[str] = ()) -> ReviewView:
        """The team's recent exchanges and contact records, flagged first (supervisors and admins)."""
        _require(staff, (Role.SUPERVISOR, Role.ADMIN), "只有团队主管可以查看复盘记录。")
        members = self._team(staff)
        rm_arg, since, until = self._review_args(args)
        if rm_arg is not None:
            chosen = [m for m in members if rm_arg.upper() == m.code.upper() or rm_arg == m.name]
            if not chosen:
                raise ServiceError(f"“{rm_arg}”不在您的团队中。")
            members = chosen
        codes = tuple(m.code for m in members)
        start, end = self._utc_range(since, until)
        exchanges = self.log.list_exchanges(
            staff_codes=codes, since=start, until=end, flagged_first=True, limit=20
        )
        contacts: list[FlaggedContact] = []
        for code in codes:
            records = self._crm(
                lambda code=code: self.crm.list_contacts(  # type: ignore[misc]
                    actor=staff.code, rm_code=code, since=since, until=until, limit=50
                )
            )
            contacts.extend(FlaggedContact(record=r, flags=compliance.check(r.summary)) for r in records)
        contacts.sort(key=lambda c: (not c.flagged, -c.record.occurred_at.timestamp()))
        return ReviewView(
            since=since,
            until=until,
            staff_codes=codes,
            names={m.code: m.name for m in members},
            exchanges=tuple(exchanges),
            contacts=tuple(contacts[:20]),
        )

    def unanswered(self, staff: Staff, *, days: int = 30) -> UnansweredView:
        """Questions without a source in the knowledge base (trainers fill the gaps)."""
        _require(
            staff, (Role.TRAINER, Role.SUPERVISOR, Role.ADMIN), "只有主管、培训师和管理员可以查看未解答问题。"
        )
        since = self.today() - timedelta(days=days)
        start, _ = self._utc_range(since, self.today())
        items = self.log.unanswered(since=start, limit=50 if staff.role == Role.SUPERVISOR else 20)
        if staff.role == Role.SUPERVISOR:
            team = {m.code for m in self._team(staff)}
            items = [u for u in items if team.intersection(u.staff_codes)]
        return UnansweredView(since=since, items=tuple(items[:20]))

    def stats(self, staff: Staff, args: Sequence[str] = ()) -> StatsView:
        """Usage figures for the team (supervisors) or everyone (trainers, admins)."""
        _require(staff, (Role.SUPERVISOR, Role.TRAINER, Role.ADMIN), "只有主管、培训师和管理员可以查看统计。")
        _, since, until = self._review_args(args, default_days=30, allow_staff=False)
        start, end = self._utc_range(since, until)
        if staff.role == Role.SUPERVISOR:
            members = self._team(staff)
            codes: list[str] | None = [m.code for m in members]
            names = {m.code: m.name for m in members}
        else:
            codes = None
            names = {s.code: s.name for s in self.crm.list_staff()}
        log_stats = self.log.stats(staff_codes=codes, since=start, until=end)
        contacts_by_staff: dict[str, int] = {}
        if staff.role != Role.TRAINER:  # trainers see knowledge usage, not client activity
            rm_codes = (
                codes if codes is not None else [s.code for s in self.crm.list_staff() if s.role == Role.RM]
            )
            for code in rm_codes:
                records = self._crm(
                    lambda code=code: self.crm.list_contacts(  # type: ignore[misc]
                        actor=staff.code, rm_code=code, since=since, until=until, limit=1000
                    )
                )
                if records:
                    contacts_by_staff[code] = len(records)
        return StatsView(
            since=since,
            until=until,
            stats=log_stats,
            contacts=sum(contacts_by_staff.values()),
            contacts_by_staff=contacts_by_staff,
            names=names,
        )

    # --- helpers -----------------------------------------------------------------------------------
    def _team(self, staff: Staff) -> list[Staff]:
        members = self._crm(lambda: self.crm.team_members(actor=staff.code))
        return [m for m in members if m.code != staff.code] or members

    def _review_args(
        self, args: Sequence[str], *, default_days: int = 7, allow_staff: bool = True
    ) -> tuple[str | None, date, date]:
        today = self.today()
        rm: str | None = None
        since, until = today - timedelta(days=default_days - 1), today
        for raw in args:
            token = raw.strip()
            if not token:
                continue
            parsed = parse_date_range(token, today)
            if parsed is not None:
                since, until = parsed
            elif allow_staff and rm is None:
                rm = token
            else:
                raise ServiceError(
                    f"无法识别“{token}”。日期范围可写 2026-11-01~2026-11-28、"
                    "2026-11-20、7天、今天、本周 或 本月。"
                )
        if since > until:
            raise ServiceError("开始日期不能晚于结束日期。")
        return rm, since, until

    def _utc_range(self, since: date, until: date) -> tuple[datetime, datetime]:
        start = datetime.combine(since, datetime.min.time(), self.tz)
        end = datetime.combine(until + timedelta(days=1), datetime.min.time(), self.tz)
        return start.astimezone(UTC), end.astimezone(UTC)

    @staticmethod
    def _crm(call: Callable[[], _T]) -> _T:
        """Run a CRM call, turning its errors into Chinese messages for the user."""
        try:
            return call()
        except AccessDenied as exc:  # the CRM's message says which rule applied, without client data
            raise ServiceError(str(exc) or "抱歉，您无权查看该客户的信息。") from None
        except (NotFound, InvalidInput) as exc:
            raise ServiceError(str(exc) or "没有找到对应的记录。") from None
        except UnknownStaff:
            raise ServiceError("您的工号尚未登记或已停用，请联系管理员。") from None
        except CRMError as exc:
            logger.warning("CRM error: %s", exc)
            raise ServiceError("客户系统暂时无法完成该操作，请稍后再试。") from None


# --- parsing helpers (pure) -------------------------------------------------------------------------
def parse_channel(text: str) -> Channel | None:
    """Channel from a chat word (电话, 见面, 微信 …); None when unknown."""
    word = text.strip().lower()
    return CHANNEL_ALIASES.get(word)


def channel_choices() -> str:
    return "、".join(c.value for c in Channel)


def parse_date_range(token: str, today: date) -> tuple[date, date] | None:
    """`2026-11-01~2026-11-28`, `2026-11-20`, `7天`, `今天`, `昨天`, `本周`, `本月` → inclusive range."""
    token = token.strip()
    if token in {"今天", "今日"}:
        return today, today
    if token == "昨天":
        day = today - timedelta(days=1)
        return day, day
    if token == "本周":
        return today - timedelta(days=today.weekday()), today
    if token == "本月":
        return today.replace(day=1), today
    if m := re.fullmatch(r"(?:近|最近)?(\d{1,3})天", token):
        days = max(1, int(m.group(1)))
        return today - timedelta(days=days - 1), today
    parts = re.split(r"~|～|\.\.|至|到|—", token)
    dates = [_parse_iso(p) for p in parts if p]
    if len(parts) == 1 and dates[0] is not None:
        return dates[0], dates[0]
    if len(parts) == 2 and all(d is not None for d in dates) and len(dates) == 2:
        assert dates[0] is not None and dates[1] is not None
        return dates[0], dates[1]
    return None


def _parse_iso(text: str) -> date | None:
    m = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})", text.strip())
    return _date_or_none(int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def _date_or_none(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _require(staff: Staff, roles: Sequence[Role], message: str) -> None:
    if staff.role not in roles:
        raise ServiceError(message)
