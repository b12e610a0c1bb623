"""The console twin's /check: the same service and texts as Telegram, plain text, a bare /check reading
the draft from the next line (fake CRM and knowledge base, real SQLite log)."""

from __future__ import annotations

from bot.composition import Services
from bot.console import run_console
from bot.settings import Settings
from tests.bot.test_console import Script


def test_console_check_with_text_and_bare(settings: Settings, services: Services) -> None:
    out: list[str] = []
    script = Script(
        [
            "/check 这款理财保本保收益，年化6%稳稳的",
            "/check",
            "您好，网点周六正常营业。",
            "/check",
            "/cancel",
            "/as TRN01",
            "/check 这款产品保本",
            "/quit",
        ]
    )
    code = run_console(settings, staff_code="RM001", input=script, output=out.append, services=services)
    text = "\n".join(out)
    assert code == 0
    assert "建议修改后再发送" in text and "第十三条" in text and "<b>" not in text
    assert "合规改写（✅ 改写已复查通过）" in text
    assert "✅ 可以发送" in text
    assert "要检查的客户消息> " in script.prompts
    assert "已取消" in text
    assert "/check 仅供" in text  # trainers may not check client messages
    assert "Traceback" not in text


def test_check_store_on_postgresql(postgres_url: str) -> None:
    """The migration and the store's queries on PostgreSQL (JSON findings, per-RM counts)."""
    from datetime import UTC, datetime, timedelta

    from bot.audit import AuditTrail
    from bot.convlog import ConversationLog, create_store_engine
    from bot.features.message_check import CheckStore

    log = ConversationLog(postgres_url)
    trail = AuditTrail(create_store_engine(postgres_url))
    try:
        store = CheckStore(log.engine, trail)
        now = datetime.now(UTC)
        for verdict in ("revise", "ok", "revise"):
            store.record(
                staff_code="RM001",
                channel="cli",
                client_id=None,
                text="电话13812345678 保本",
                verdict=verdict,
                findings=[{"rule": "guarantee", "text": "保本"}],
                rewrite=None,
                at=now,
            )
        window = {"since": now - timedelta(hours=1), "until": now + timedelta(hours=1)}
        assert store.counts(staff_codes=["RM001"], **window) == {"RM001": (3, 2)}
        [first, *_] = store.between(staff_codes=None, **window)
        assert first.findings == ({"rule": "guarantee", "text": "保本"},) and "138****5678" in first.text
        assert len(trail.find(kind="message_check", ref=str(first.id))) == 1
        assert trail.verify().ok
    finally:
        trail.close()
        log.close()
