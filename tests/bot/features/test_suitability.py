"""bot.features.suitability: the rule table applied to what RMs log; shown before confirming, stored,
and first in the supervisor's review."""

from __future__ import annotations

from datetime import date

from bot.composition import Services
from bot.features import contact_log, suitability
from bot.features.contact_log import CONFIRM
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
    assert record.topics == ("适当性:产品R5超出客户C3承受能力",)
    contact_log.start(s.contacts, req(crm, "RM001", "张伟 电话 例行问候"))
    view = s.supervision.review(crm.get_staff(code="SUP01"), [])
    assert view.contacts[0].record.id == record.id and view.contacts[0].suitability
