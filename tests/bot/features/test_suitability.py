"""bot.features.suitability: the rule table applied to what RMs log; shown before confirming, stored,
and first in the supervisor's review."""

from __future__ import annotations

from datetime import date

from bot.composition import Services
from bot.features import contact_log, suitability
from bot.features.contact_log import CONFIRM
from crm_adapter.models import Product
from tests.bot.app_fixtures import TODAY, req
from tests.bot.fakes import FakeCRM, make_client


def test_rule_table_is_data_with_its_source() -> None:
    table = suitability.rules()
    assert table["tolerance"]["C3"] == "R3" and table["tolerance"]["article"] == "第十二条"
    assert table["senior"]["age"] == 65 and "金融机构产品适当性管理办法" in suitability.source()


def test_product_levels_and_findings() -> None:
    c3 = make_client("C1", "甲", "jia", "RM001").model_copy(update={"risk_level": "C3"})
    assert suitability.product_levels("向客户推荐了R5私募产品，另有r2理财") == ("R2", "R5")
    assert suitability.product_levels("客户 ID R12345 不是产品") == ()
    [finding] = suitability.check(c3, "向客户推荐了R5私募产品", TODAY)
    assert finding.label == "产品R5超出客户C3承受能力" and finding.article == "第十二条"
    assert suitability.check(c3, "推荐R3稳健产品", TODAY) == ()
    assert suitability.check(c3, "例行问候", TODAY) == ()
    senior = c3.model_copy(update={"risk_level": "C5", "birthday": date(1950, 1, 1)})
    [old] = suitability.check(senior, "介绍R4产品", TODAY)
    assert old.article == "第十八条" and "76岁" in old.label
    assert len(finding.topic) <= 30 and finding.topic.startswith(suitability.TOPIC_PREFIX)


def test_r5_for_a_c3_client_warns_before_saving_and_is_reviewed_first(
    live_services: Services, crm: FakeCRM
) -> None:
    """The issue's example: an RM logs 向客户推荐了R5私募产品 for a C3 client."""
    s = live_services
    step = contact_log.start(s.contacts, req(crm, "RM001", "刘洋 面谈 向客户推荐了R5私募产品", update_id=1))
    assert step.state == CONFIRM and not crm.contacts  # not saved before the RM confirms
    assert "适当性提示" in step.replies[0].text and "第十二条" in step.replies[0].text
    done = contact_log.step(s.contacts, req(crm, "RM001", "确认", update_id=2), CONFIRM, step.draft)
    assert done.state is None and "优先提交主管复核" in done.replies[0].text
    [record] = crm.contacts
    assert record.topics == ("适当性:产品R5超出客户C3承受能力", "产品:私募")  # with the /log details
    contact_log.start(s.contacts, req(crm, "RM001", "张伟 电话 例行问候"))
    view = s.supervision.review(crm.get_staff(code="SUP01"), [])
    assert view.contacts[0].record.id == record.id and view.contacts[0].suitability


CATALOGUE = [
    {"code": "SM0001", "name": "鑫享1号私募证券投资基金", "type": "私募基金", "risk_level": "R5"},
    {"code": "KJ0101", "name": "科技成长股票型基金", "type": "股票基金", "risk_level": "R4"},
    {"code": "GS0090", "name": "稳享固收90天持有期理财", "type": "固收理财", "risk_level": "R2"},
    {"code": "HJ01", "name": "黄金", "type": "贵金属", "risk_level": "R3"},  # too short to match by name
]


def _catalogue(crm: FakeCRM) -> suitability.ProductCatalogue:
    crm.import_products(actor="ADM01", rows=CATALOGUE)
    return suitability.ProductCatalogue(crm.list_products)


def test_catalogue_products_are_matched_by_name_and_code(crm: FakeCRM) -> None:
    catalogue = _catalogue(crm)
    c3 = crm.clients["C0001"]  # C3, assessed 2026-06-01
    [finding] = suitability.check(c3, "向客户推荐了鑫享1号私募证券投资基金", TODAY, catalogue=catalogue)
    assert finding.label == "SM0001(R5)超出客户C3承受能力" and finding.article == "第十二条"
    assert finding.products == ("鑫享1号私募证券投资基金（SM0001，R5）",)
    shown = suitability.render_findings([finding])
    assert "鑫享1号私募证券投资基金（SM0001，R5）" in shown and "第十二条" in shown
    assert [p.code for p in catalogue.mentioned("客户问了 sm0001 和ＫＪ0101，另有XSM00012")] == [
        "SM0001",
        "KJ0101",
    ]  # codes as whole words, case and width folded
    assert suitability.check(c3, "介绍稳享固收90天持有期理财，客户喜欢黄金", TODAY, catalogue=catalogue) == ()
    # The highest level decides; a bare level above the catalogue product is named as such.
    [bare] = suitability.check(c3, "推荐科技成长股票型基金和另一只R5产品", TODAY, catalogue=catalogue)
    assert bare.label == "产品R5超出客户C3承受能力" and "科技成长股票型基金（KJ0101，R4）" in bare.products


def test_assessment_missing_or_older_than_twelve_months(crm: FakeCRM) -> None:
    catalogue = _catalogue(crm)
    c5 = crm.clients["C0001"].model_copy(update={"risk_level": "C5"})
    text = "推荐科技成长股票型基金"
    assert suitability.check(c5, text, TODAY, catalogue=catalogue) == ()
    missing = c5.model_copy(update={"risk_assessed_on": None})
    [gone] = suitability.check(missing, text, TODAY, catalogue=catalogue)
    assert gone.label == "风险测评缺失" and gone.article == "第十二条"
    stale = c5.model_copy(update={"risk_assessed_on": date(2025, 11, 28)})  # exactly 12 months
    [old] = suitability.check(stale, text, TODAY, catalogue=catalogue)
    assert old.label == "风险测评已过期(2025-11-28)" and len(old.topic) <= 30
    fresh = c5.model_copy(update={"risk_assessed_on": date(2025, 11, 29)})
    assert suitability.check(fresh, text, TODAY, catalogue=catalogue) == ()
    assert suitability.check(missing, "例行问候", TODAY, catalogue=catalogue) == ()  # no product, no check


def test_senior_client_and_r4_catalogue_product(crm: FakeCRM) -> None:
    catalogue = _catalogue(crm)
    senior = crm.clients["C0001"].model_copy(update={"risk_level": "C4", "birthday": date(1960, 11, 28)})
    [finding] = suitability.check(senior, "推荐科技成长股票型基金", TODAY, catalogue=catalogue)
    assert (finding.label, finding.article) == ("66岁客户高风险产品", "第十八条")
    assert finding.products == ("科技成长股票型基金（KJ0101，R4）",)
    assert suitability.check(senior, "推荐稳享固收90天持有期理财", TODAY, catalogue=catalogue) == ()


def test_catalogue_is_reloaded_after_its_ttl_and_survives_a_failing_load(crm: FakeCRM) -> None:
    now = [0.0]
    calls: list[int] = []

    def load() -> list[Product]:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("CRM down")
        return crm.list_products()

    catalogue = suitability.ProductCatalogue(load, ttl_seconds=60, clock=lambda: now[0])
    assert catalogue.mentioned("鑫享1号私募证券投资基金") == ()  # empty catalogue
    crm.import_products(actor="ADM01", rows=CATALOGUE)
    now[0] = 30
    assert catalogue.mentioned("鑫享1号私募证券投资基金") == () and len(calls) == 1  # cached
    now[0] = 61
    assert catalogue.mentioned("鑫享1号私募证券投资基金") == () and len(calls) == 2  # load failed
    now[0] = 122
    assert [p.code for p in catalogue.mentioned("鑫享1号私募证券投资基金")] == ["SM0001"]


def test_a_catalogue_product_logged_for_a_c3_client_is_stored_and_reviewed_first(
    live_services: Services, crm: FakeCRM
) -> None:
    crm.import_products(actor="ADM01", rows=CATALOGUE)
    s = live_services
    step = contact_log.start(
        s.contacts, req(crm, "RM001", "刘洋 面谈 向客户推荐了鑫享1号私募证券投资基金", update_id=1)
    )
    assert step.state == CONFIRM and not crm.contacts
    assert "鑫享1号私募证券投资基金" in step.replies[0].text and "第十二条" in step.replies[0].text
    contact_log.step(s.contacts, req(crm, "RM001", "确认", update_id=2), CONFIRM, step.draft)
    [record] = crm.contacts
    assert record.topics[0] == "适当性:SM0001(R5)超出客户C3承受能力"
    view = s.supervision.review(crm.get_staff(code="SUP01"), [])
    assert view.contacts[0].record.id == record.id and view.contacts[0].suitability


def test_a_large_catalogue_matches_the_longest_name(crm: FakeCRM) -> None:
    """2,000 products whose names share prefixes: the longest name mentioned wins (timed in
    bench/bench_suitability.py, not here)."""
    rows = [
        {"code": f"P{i:05d}", "name": f"测试稳健理财{i}号产品", "type": "理财", "risk_level": f"R{i % 5 + 1}"}
        for i in range(2000)
    ]
    crm.import_products(actor="ADM01", rows=rows)
    catalogue = suitability.ProductCatalogue(crm.list_products)
    summary = "客户来电，" * 40 + "推荐测试稳健理财1999号产品"
    assert [p.code for p in catalogue.mentioned(summary)] == ["P01999"]
    [finding] = suitability.check(crm.clients["C0001"], summary, TODAY, catalogue=catalogue)
    assert finding.label == "P01999(R5)超出客户C3承受能力"


SPELLINGS = [
    "推荐了xinxiang1hao",  # the name in pinyin
    "推荐了 Xin Xiang 1 Hao 私募",
    "推荐P 9001",  # a code with a gap
    "推荐P-9001",
    "推荐了鑫享五号私募证券投资基金",  # 五号 for 1号's sibling: numerals folded
    "推荐了鑫享1号",  # a partial name
    "推荐了鑫享1號私募證券投資基金",  # traditional characters
]


def test_suitability_is_not_bypassed_by_spelling(crm: FakeCRM) -> None:
    """Issue #18 item 11: pinyin, code forms, numerals, partial and traditional names, full-width levels."""
    rows = [
        *CATALOGUE,
        {"code": "P9001", "name": "鑫享5号私募证券投资基金", "type": "私募基金", "risk_level": "R5"},
    ]
    crm.import_products(actor="ADM01", rows=rows)
    catalogue = suitability.ProductCatalogue(crm.list_products)
    c3 = crm.clients["C0001"]
    for text in SPELLINGS:
        findings = suitability.check(c3, text, TODAY, catalogue=catalogue)
        assert [f.label for f in findings if "承受能力" in f.label], text
    for level in ("Ｒ５", "R-5", "r 5", "R_5"):
        assert suitability.product_levels(f"推荐{level}产品") == ("R5",), level
    # Ordinary words are still no products: a short core without a series number, a theme, an index.
    for text in ("客户关注科技成长方向", "建议客户关注沪深300走势", "客户喜欢黄金", "P90012 不是代码"):
        assert catalogue.mentioned(text) == (), text
