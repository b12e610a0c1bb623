"""bot.features.message_check: the service on the composition root (fake CRM, real SQLite log and audit
trail): client names, suitability for a named client, the rewrite, records masked and audited, and
failing closed when a check cannot be recorded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bot.composition import Services
from bot.core import ServiceError
from bot.features import message_check
from bot.features.message_check import CheckStore, MessageCheckService
from bot.features.supervision import SupervisionService
from crm_adapter import Client
from knowledge.conduct import CATEGORIES, default_rules
from knowledge.conduct_model import STOP, ConductModel, default_model
from tests.bot.app_fixtures import req
from tests.bot.fakes import FakeCRM

LABELLED = Path(__file__).resolve().parents[3] / "bench" / "messages_labelled.jsonl"


def _client(crm: FakeCRM, client_id: str, **changes: object) -> Client:
    client = crm.clients[client_id].model_copy(update=changes)
    crm.clients[client_id] = client
    return client


def test_a_bare_check_asks_for_the_draft(services: Services, crm: FakeCRM) -> None:
    reply = message_check.check(services.message_check, req(crm, "RM001"))
    assert "请发送要检查的客户消息" in reply.text
    with pytest.raises(ServiceError, match="请发送要检查的消息"):
        services.message_check.check(crm.get_staff(code="RM001"), "   ", channel="console")


def test_a_named_client_is_checked_for_suitability_like_log(services: Services, crm: FakeCRM) -> None:
    _client(crm, "C0001", risk_level="C2")
    result = services.message_check.check(
        crm.get_staff(code="RM001"), "C0001 推荐这款R4产品", channel="console"
    )
    assert result.client is not None and result.client.client_id == "C0001"
    labels = [f.label for f in result.findings]
    assert "适当性：产品R4超出客户C2承受能力" in labels
    [tolerance] = [f for f in result.findings if "承受能力" in f.label]
    assert tolerance.text == "R4" and "第十三条" in tolerance.source
    assert result.rewrite_verdict == "ok" and "R4" not in (result.rewrite or "")


def test_homonyms_must_be_told_apart_by_client_id(services: Services, crm: FakeCRM) -> None:
    _client(crm, "C0002", name="张伟")
    with pytest.raises(ServiceError, match="有 2 位客户名为“张伟”"):
        services.message_check.check(crm.get_staff(code="RM001"), "张伟 这款理财不保本", channel="console")


def test_another_clients_name_with_holdings_is_private(services: Services, crm: FakeCRM) -> None:
    result = services.message_check.check(
        crm.get_staff(code="RM001"), "刘洋 孙丽上个月买了300万，您也看看", channel="console"
    )
    assert [(f.rule, f.text) for f in result.findings] == [("privacy_client", "孙丽")]
    assert "孙丽" not in (result.rewrite or "") and result.rewrite_verdict == "ok"


def test_the_record_is_masked_and_audited(services: Services, crm: FakeCRM) -> None:
    text = "这款理财保本，有事打我手机13812345678"
    result = services.message_check.check(crm.get_staff(code="RM001"), text, channel="console")
    stored = result.stored
    assert stored is not None and stored.ref.startswith("M")
    assert "13812345678" not in stored.text and "138****5678" in stored.text
    assert "13812345678" not in json.dumps(stored.findings, ensure_ascii=False)
    assert services.audit is not None
    [event] = services.audit.find(kind="message_check", ref=str(stored.id))
    assert event.actor == "RM001" and event.payload["verdict"] == "revise"
    assert "13812345678" not in json.dumps(event.payload, ensure_ascii=False)
    assert {"guarantee", "privacy_number"} <= set(event.payload["rules"])


@pytest.mark.parametrize("shared", [False, True])
def test_a_check_that_cannot_be_audited_is_neither_stored_nor_shown(
    services: Services, crm: FakeCRM, monkeypatch: pytest.MonkeyPatch, shared: bool
) -> None:
    """Audit on another database (appended after, the record undone) or the same one (one transaction)."""
    assert services.audit is not None
    monkeypatch.setattr(services.audit, "shares_database", lambda _engine: shared)

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("audit database gone")

    monkeypatch.setattr(services.audit, "append_in", broken)
    monkeypatch.setattr(services.audit, "append", broken)
    with pytest.raises(ServiceError, match="检查结果未能记录"):
        services.message_check.check(crm.get_staff(code="RM001"), "这款产品保本", channel="console")
    store = services.check_store
    assert store.get(1) is None


def test_names_that_cannot_be_read_keep_the_last_ones(services: Services) -> None:
    calls = {"n": 0}

    def names() -> list[str]:
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("CRM down")
        return ["孙丽"]

    svc = MessageCheckService(clock=services.clock, names=names, names_ttl=0.0)
    assert svc.evaluate("孙丽买了200万").verdict == "revise"
    assert svc.evaluate("孙丽买了200万").verdict == "revise"  # the reload failed; the names stay
    assert calls["n"] > 1


@pytest.mark.parametrize("with_model", [False, True], ids=["rules", "rules+model"])
def test_every_rewrite_of_the_labelled_sets_rechecks_ok(services: Services, with_model: bool) -> None:
    svc = MessageCheckService(
        clock=services.clock,
        names=lambda: ["张伟", "章伟", "王建国", "李娜", "曾志远", "欧阳静怡"],
        model=default_model() if with_model else None,
    )
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 300
    if with_model:
        for name in ("messages_blind", "messages_blind2", "messages_blind3"):
            path = LABELLED.with_name(f"{name}.jsonl")
            rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    for row in rows:
        result = svc.evaluate(row["text"], recipient=row.get("recipient"))
        if result.verdict == "revise":
            assert result.rewrite_verdict == "ok", (row["id"], result.rewrite)
            assert all(f.source.startswith("《") for f in result.findings)


def test_a_draft_with_emoji_and_spaces_is_rewritten_around_them(services: Services) -> None:
    svc = MessageCheckService(clock=services.clock)
    text = "周姐好🙂 这款 理财保 本，一年下来肯定能赚两万块💰，今晚就关⏰"
    result = svc.evaluate(text)
    assert {f.category for f in result.findings} == {"guarantee", "expected_return", "pressure"}
    assert all(text[f.start : f.end] == f.text for f in result.findings)
    assert result.rewrite_verdict == "ok", result.rewrite
    assert result.rewrite is not None and "保 本" not in result.rewrite and "两万块" not in result.rewrite


def test_supervisors_see_counts_and_the_flagged_checks(live_services: Services, crm: FakeCRM) -> None:
    svc = live_services.message_check
    rm = crm.get_staff(code="RM001")
    svc.check(rm, "这款产品保本保收益", channel="console")
    svc.check(rm, "您好，网点周六正常营业", channel="console")
    sup = crm.get_staff(code="SUP01")
    supervision: SupervisionService = live_services.supervision
    stats = supervision.stats(sup)
    assert stats.checks_by_staff["RM001"] == (2, 1)
    view = supervision.review(sup)
    [flagged] = view.checks
    assert flagged.verdict == "revise" and flagged.staff_code == "RM001"
    assert supervision.open_check(sup, flagged.id).text == "这款产品保本保收益"
    with pytest.raises(ServiceError, match="找不到消息检查"):
        supervision.open_check(sup, flagged.id + 100)
    assert isinstance(live_services.check_store, CheckStore)


def test_a_product_named_by_its_risk_words_is_checked_too(services: Services, crm: FakeCRM) -> None:
    _client(crm, "C0001", risk_level="C2")
    rm = crm.get_staff(code="RM001")
    result = services.message_check.check(rm, "C0001 给您推荐一款高风险的私募产品", channel="console")
    assert "适当性：产品R5超出客户C2承受能力" in [f.label for f in result.findings]
    ok = services.message_check.check(rm, "C0001 这款低风险理财不保本，净值会波动", channel="console")
    assert ok.verdict == "ok"


def test_the_model_stops_a_paraphrased_promise_and_cites_its_category(services: Services) -> None:
    rules_only = MessageCheckService(clock=services.clock)
    svc = MessageCheckService(clock=services.clock, model=default_model())
    text = "王总您好！您把钱放我这儿，明年这个时候只会比现在多，这个您尽管放心。周六网点照常营业。"
    assert rules_only.evaluate(text).verdict == "ok"  # no rule lists these words
    result = svc.evaluate(text)
    assert result.verdict == "revise"
    [finding] = [f for f in result.findings if f.category == "guarantee"]
    cited = default_rules().cited_for("guarantee")
    assert finding.rule == "model:guarantee" and finding.source == cited.source
    assert finding.suggestion == cited.suggestion and "模型判断" in finding.label
    assert finding.text == "您把钱放我这儿，明年这个时候只会比现在多，这个您尽管放心。"
    assert text[finding.start : finding.end] == finding.text
    assert result.rewrite_verdict == "ok", result.rewrite
    assert result.rewrite is not None and "只会比现在多" not in result.rewrite
    assert "周六网点照常营业" in result.rewrite
    # a category a rule found is not found twice
    promised = svc.evaluate("这款理财保本保收益，年化6%稳稳的")
    assert not [f for f in promised.findings if f.rule.startswith("model:")]
    assert promised.rewrite_verdict == "ok"


@pytest.mark.parametrize(
    "text",
    [
        "这款产品不保本，净值会有波动，过往业绩不代表未来表现。",
        "理财非存款，产品有风险，投资须谨慎。",
        "您好，网点周六正常营业，欢迎来办理业务。",
        "如果有人跟您说保本高收益，一定要小心，投资都有风险。",
    ],
)
def test_disclosures_stay_ok_with_the_model(services: Services, text: str) -> None:
    svc = MessageCheckService(clock=services.clock, model=default_model())
    assert svc.evaluate(text).verdict == "ok"


def test_the_models_superlative_about_no_product_is_dropped(services: Services) -> None:
    categories = [c for c in CATEGORIES if c != "suitability"]
    heads = [*categories, STOP]
    coef = np.zeros((1, len(heads)))
    coef[0, heads.index("superlative")] = coef[0, heads.index(STOP)] = 12.0
    model = ConductModel.from_arrays(
        {
            "categories": np.array(categories),
            "vocabulary": np.array(["最"]),
            "idf": np.ones(1),
            "coef": coef,
            "intercept": np.full(len(heads), -4.0),
            "threshold": np.array(0.5),
            "ngram_range": np.array([1, 3]),
        }
    )
    svc = MessageCheckService(clock=services.clock, model=model)
    school = "恭喜！您儿子考进了全市最难进的高中。"
    assert model.flags(school) and svc.evaluate(school).verdict == "ok"
    product = "这只基金是我见过最省心的。"
    assert default_rules().scan(product) == ()  # only the model finds it
    assert [f.rule for f in svc.evaluate(product).findings] == ["model:superlative"]
