"""bot.features.privacy: client names in pinyin and traditional characters are redacted for trainers too,
ordinary words are not."""

from __future__ import annotations

import pytest

from bot.composition import Services
from bot.features.privacy import PLACEHOLDER, ClientPrivacy, ClientRedactor
from knowledge import Answer
from tests.bot.fakes import FakeCRM, make_client

NAMES = ["张伟", "欧阳静怡", "曾志远", "王建国", "章伟", "李娜", "孔杨成", "David Li"]


@pytest.fixture(scope="module")
def redact() -> ClientRedactor:
    return ClientRedactor(NAMES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("zhangwei的太太想开户", "某客户的太太想开户"),
        ("Zhang Wei 的太太想开户", "某客户 的太太想开户"),
        ("ZHANG-WEI问", "某客户问"),
        ("zhang'wei和Zhāng Wěi", "某客户和某客户"),
        ("Wei Zhang asked", "某客户 asked"),  # surname last
        ("ouyang jingyi 想买私募", "某客户 想买私募"),
        ("zeng zhiyuan", "某客户"),  # a surname read as the CRM reads it (曾 zeng)
        ("張偉的太太想開戶", "某客户的太太想開戶"),  # traditional characters
        ("歐陽靜怡和李娜", "某客户和某客户"),
        ("wjg 问专家号", "某客户 问专家号"),  # 王建国's initials: three letters, no other client's
        ("WJG问", "某客户问"),
    ],
)
def test_names_in_pinyin_and_traditional_characters(redact: ClientRedactor, text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "zhang 和 wei 都是常见的姓",  # single syllables are not a name
        "zhangweiming 不是客户",  # a longer word is not the name inside it
        "zw 问",  # two-letter initials
        "请客户做 KYC 复核",  # 孔杨成's initials, and a common abbreviation
        "policy 的 ouyang 部分",
        "钻石客户有哪些权益",
    ],
)
def test_ordinary_words_are_left_alone(redact: ClientRedactor, text: str) -> None:
    assert redact(text) == text and PLACEHOLDER not in redact(text)


def test_initials_shared_by_two_clients_are_not_redacted() -> None:
    redact = ClientRedactor(["王建国", "吴建国"])  # both wjg
    assert redact("wjg 问") == "wjg 问" and redact("wang jianguo 问") == "某客户 问"


def test_names_stored_in_traditional_characters_match_simplified_text() -> None:
    assert ClientRedactor(["陳大文"])("陈大文想开户") == "某客户想开户"


def test_the_redactor_is_rebuilt_only_when_the_names_change(crm: FakeCRM) -> None:
    now = [0.0]
    privacy = ClientPrivacy(crm, ttl=60, clock=lambda: now[0])
    first = privacy.redactor()
    now[0] = 61  # names read again, unchanged: the same redactor
    assert privacy.redactor() is first
    crm.clients["C0020"] = make_client("C0020", "欧阳静怡", "ouyangjingyi", "RM001")
    now[0] = 122
    assert privacy.redactor() is not first and privacy.redact("ouyang jingyi 问") == "某客户 问"


def test_trainers_see_pinyin_and_traditional_names_redacted(live_services: Services, crm: FakeCRM) -> None:
    s = live_services
    none = Answer(question="q", lead=("没有找到。",), citations=(), grounded=False, composer="none")
    for question in ("Zhang Wei 的太太想开户怎么办", "張偉的太太想开户怎么办"):
        s.log.record(staff_code="RM001", channel="telegram", question=question, answer=none)
    trainer = s.supervision.unanswered(crm.get_staff(code="TRN01"))
    shown = {u.question for u in trainer.items}
    assert shown == {"某客户 的太太想开户怎么办", "某客户的太太想开户怎么办"}
    supervisor = s.supervision.unanswered(crm.get_staff(code="SUP01"))
    assert {u.question for u in supervisor.items} == {
        "Zhang Wei 的太太想开户怎么办",
        "張偉的太太想开户怎么办",
    }
