"""The console twin driven with scripted input: same services and renderers as the bot, plain text out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from bot.composition import Services, open_services
from bot.console import run_console
from bot.convlog import ConversationLog
from bot.settings import Settings
from tests.bot.conftest import demo_crm

pytestmark = pytest.mark.slow


class Script:
    """input() replacement feeding lines, then EOF (like Ctrl-D)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = list(lines)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        if not self.lines:
            raise EOFError
        return self.lines.pop(0)


class Borrowed:
    """The session knowledge base, protected from being closed by the console."""

    def __init__(self, kb: Any) -> None:
        self._kb = kb

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kb, name)

    def close(self) -> None:
        pass


@pytest.fixture
def services(settings: Settings, session_kb: Any) -> Iterator[Services]:
    crm = demo_crm(settings)
    log = ConversationLog(settings.effective_database_url)
    yield open_services(settings, kb=session_kb, crm=crm, log=log)
    log.close()
    crm.close()


def run(settings: Settings, services: Any, lines: list[str], **kw: Any) -> tuple[int, str, Script]:
    out: list[str] = []
    script = Script(lines)
    code = run_console(settings, input=script, output=out.append, services=services, **kw)
    return code, "\n".join(out), script


def test_console_session_as_rm(settings: Settings, services: Any) -> None:
    code, out, _ = run(
        settings,
        services,
        [
            "钻石客户有哪些增值服务？",
            "/up",
            "/client zhangwei",
            "1",
            "/log 张伟 电话 控制台一行记录 下次:明天",
            "/log",
            "C0001",
            "飞鸽",
            "微信",
            "客户关心 <b>家族信托</b> & 税务",
            "某天",
            "下周一",
            "y",
            "/today",
            "/review",
            "/nonsense",
            "<script>alert(1)</script> & 量子计算机怎么造",
        ],
    )
    assert code == 0
    assert "王敏" in out and "/as" in out  # who you are and how to switch
    assert "参考依据" in out and "[1]" in out and "<b>" not in out.split("控制台一行记录")[0]
    assert "感谢反馈" in out
    assert "资产规模" in out and "风险等级" in out
    assert "[1] 张伟（zhangwei" in out and "• 张伟" not in out  # one numbered pick list, not two
    assert out.count("✅ 已记录") == 2
    assert "客户关心 <b>家族信托</b> & 税务" in out  # plain text: shown as typed, unescaped
    assert "请从以下渠道中选择" in out and "无法识别日期" in out
    assert "今天没有到期的回访" in out or "回访" in out
    assert "/review 仅供团队主管" in out
    assert "未知命令" in out
    assert "Traceback" not in out
    assert out.rstrip().endswith("再见！")
    crm, log = services.crm, services.log
    summaries = {r.summary for r in crm.list_contacts(actor="RM001", limit=1000) if r.source == "console"}
    assert summaries == {"控制台一行记录", "客户关心 <b>家族信托</b> & 税务"}
    assert log.stats().questions == 2 and log.stats().thumbs_up == 1


def test_console_supervisor_and_trainer(settings: Settings, services: Any) -> None:
    code, out, _ = run(
        settings,
        services,
        ["/review", "/stats", "/as TRN01", "/kb 钻石客户 增值服务", "/unanswered", "/as NOBODY", "/quit"],
        staff_code="SUP01",
    )
    assert code == 0
    assert "陈静" in out and "团队复盘" in out and "使用统计" in out
    assert "赵琳" in out and "得分" in out
    assert "没有工号为 NOBODY 的员工" in out
    assert "再见" in out


def test_console_unknown_staff_code(settings: Settings, services: Any) -> None:
    code, out, _ = run(settings, services, [], staff_code="XX999")
    assert code == 1 and "没有工号" in out


def test_console_first_run_seeds_demo_data(
    settings: Settings, session_kb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.composition

    monkeypatch.setattr(bot.composition, "open_knowledge_base", lambda _s, **_kw: Borrowed(session_kb))
    out: list[str] = []
    code = run_console(settings, input=Script(["/client 张伟", "/quit"]), output=out.append)
    text = "\n".join(out)
    assert code == 0
    assert "正在准备知识库" in text and "演示客户数据" in text
    assert "张伟" in text and "王敏" in text
    assert settings.data_dir.is_dir()


def test_cli_chat_and_run_without_token(
    session_kb: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import bot.composition
    from bot.cli import cli

    monkeypatch.setattr(bot.composition, "open_knowledge_base", lambda _s, **_kw: Borrowed(session_kb))
    runner = CliRunner()
    result = runner.invoke(cli, ["chat", "--as", "TRN01"], input="/kb 反洗钱\n/quit\n")
    assert result.exit_code == 0, result.output
    assert "赵琳" in result.output and "得分" in result.output
    result = runner.invoke(cli, ["run"], input="钻石客户有哪些增值服务？\n")
    assert result.exit_code == 0, result.output
    assert "console twin" in result.output and "参考依据" in result.output
    assert "--as" in runner.invoke(cli, ["chat", "--help"]).output


def test_console_defaults_to_the_first_rm_without_demo_data(settings: Settings, tmp_path: Any) -> None:
    from tests.bot.fakes import FakeCRM, FakeKB

    crm = FakeCRM()
    del crm.staff["RM001"]
    log = ConversationLog(f"sqlite:///{tmp_path / 'log.db'}")
    try:
        code, out, _ = run(
            settings, open_services(settings, kb=FakeKB(), crm=crm, log=log), ["钻石客户权益", "/down"]
        )
    finally:
        log.close()
    assert code == 0 and "李强" in out and "RM002" in out and "已记录" in out


def test_console_card_risk_view_entitlements_and_kyc_today(settings: Settings, services: Any) -> None:
    """The console twin shows the same risk view, benefit lines and KYC reviews, as plain text."""
    crm = services.crm
    diamond = next(
        f.client for f in crm.follow_ups(actor="RM001", horizon_days=366) if f.client.tier == "钻石"
    )
    code, out, _ = run(settings, services, [f"/client {diamond.client_id}", "/today", "/quit"])
    assert code == 0 and "<b>" not in out
    assert f"风险等级：{diamond.risk_level}" in out and "PEP" in out and "KYC 复核到期：" in out
    assert "• 专家挂号预约：每年5次" in out and "|" not in out.split("钻石客户权益")[1].split("📅")[0]
    assert all(k.client.name in out.split("📅")[1] for k in crm.kyc_reviews_due(actor="RM001"))


def test_console_bare_confirmation_outside_log_gets_a_hint(settings: Settings, services: Any) -> None:
    code, out, _ = run(settings, services, ["确认", "ok", "/log", "C0001", "电话", "例行问候", "无", "确认"])
    assert code == 0
    assert out.count("当前没有需要确认或取消的操作") == 2 and "参考依据" not in out
    assert "✅ 已记录" in out  # inside /log the same word confirms
    assert services.log.stats().questions == 0


def test_console_a_command_is_never_swallowed_by_a_pick_list_or_log(
    settings: Settings, services: Any
) -> None:
    """Issue #19: `/log` was lost after `/client zw` (read as a pick), `/today` was read as a client name."""
    code, out, _ = run(settings, services, ["/client zhangwei", "/whoami", "/log", "/today"])
    assert code == 0
    assert "已放弃选择" in out and "当前身份" in out  # the command ran instead of "无效的序号"
    assert "/log 未保存" in out and "回访" in out  # /today ran; it was not taken for a client's name
    assert "无效的序号" not in out and "找不到" not in out
    assert not [r for r in services.crm.list_contacts(actor="RM001", limit=1000) if r.source == "console"]


def test_console_log_confirmation_offers_the_arranged_benefit(settings: Settings, services: Any) -> None:
    """The console twin asks the same while confirming: 确认并登记权益 saves the record and the use."""
    crm = services.crm
    diamond = next(
        f.client for f in crm.follow_ups(actor="RM001", horizon_days=366) if f.client.tier == "钻石"
    )
    lines = [f"/log {diamond.client_id} 电话 帮客户约了全程导医", "确认并登记权益"]
    code, out, _ = run(settings, services, lines)
    asked, _, answered = out.partition("✅ 已记录")
    assert code == 0 and "摘要提到已安排「全程导医」" in asked and "点“确认并登记权益”保存记录" in asked
    assert "✅ 已登记" in answered
    [use] = crm.benefit_uses(actor="RM001", client_id=diamond.client_id)
    assert use.benefit == "全程导医" and use.contact_id is not None


def test_console_pick_of_a_same_named_client_answers_for_the_one_picked(
    settings: Settings, services: Any
) -> None:
    """The console keeps the waiting question in its own session state (Telegram: persisted user_data)."""
    services.crm.import_clients(
        actor="ADM01",
        rows=[{"name": "张伟", "birthday": "", "phone": "", "aum": "800000", "risk_level": "C3",
               "rm_code": "RM001", "client_id": "C9001"}],
    )  # fmt: skip
    twin = services.crm.get_client(actor="RM001", client_id="C9001")
    out: list[str] = []
    lines = ["张伟手术住院安排有几次"]

    def typed(prompt: str) -> str:
        if prompt.startswith("序号"):  # pick the option naming the second 张伟
            return next(line.split("]")[0].strip(" [") for line in out if "C9001" in line)
        if not lines:
            raise EOFError
        return lines.pop(0)

    code = run_console(settings, input=typed, output=out.append, services=services, staff_code="RM001")
    text = "\n".join(out)
    assert code == 0 and "哪一位" in text, text
    assert f"依据客户卡片：张伟，{twin.tier.value}客户" in text and "已失效" not in text


def test_console_drives_the_conversation_the_command_table_names(
    settings: Settings, services: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #19: `/log` is no console built-in: the console runs the conversation the table's row names
    (its feature's steps, on the row's service) under the row's access rule, like every other command."""
    import dataclasses

    from bot import commands
    from bot.features.contact_log import Step
    from bot.rendering import Reply

    seen: list[tuple[object, ...]] = []

    def start(svc: Any, req: Any) -> Step:
        seen.append(("start", type(svc).__name__, req.args))
        return Step((Reply("第一问"),), 7, {"n": 1})

    def step(svc: Any, req: Any, state: int, draft: Any) -> Step:
        seen.append(("step", type(svc).__name__, req.args, state, dict(draft)))
        return Step((Reply("谈话结束"),), None, draft)

    row = dataclasses.replace(commands.command("log"), flow=commands.Flow(start, step))
    monkeypatch.setitem(commands._BY_NAME, "log", row)
    code, out, _ = run(settings, services, ["/log", "答一", "/as TRN01", "/log 张伟 电话 例行问候"])
    assert code == 0
    assert seen == [("start", "ContactLogService", ""), ("step", "ContactLogService", "答一", 7, {"n": 1})]
    assert "记录客户联系（随时输入 /cancel 取消）" in out and "第一问" in out and "谈话结束" in out
    assert "/log 仅供客户经理" in out  # the trainer: refused by the row's roles, before any step ran


def test_a_document_approved_in_a_console_session_is_answerable_in_that_session(
    settings: Settings, services: Any, session_kb: Any, tmp_path: Any
) -> None:
    """Issue #19 item 6: a trainer submits a small document, someone else approves it, and a question in
    the same console session is answered from it (before the approval it is not)."""
    doc = tmp_path / "星辰理财.md"
    doc.write_text("# 星辰理财\n\n星辰稳健理财面向白金客户，起购金额100万元，期限180天。\n", encoding="utf-8")
    question = "星辰稳健理财的起购金额是多少？"
    lines = [question, f"/upload {doc}", "/as CMP01", "/changes K1", "/approve K1", "/as RM001", question]
    try:
        code, out, _ = run(settings, services, lines, staff_code="TRN01")
    finally:  # the knowledge base is shared by the session's tests: the document leaves it again
        session_kb.finish_vectors()
        session_kb.remove(doc.name)
    before, _, after = out.partition("已批准并发布")
    assert code == 0 and "已提交知识库变更 K1" in before and after, out
    assert "100万元" not in before.split("已提交知识库变更")[0]  # not in the knowledge base before
    answer = after.split("当前身份：王敏")[1]
    assert "100万元" in answer and "星辰理财" in answer and "参考依据" in answer, answer
