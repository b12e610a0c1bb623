"""Client search: Chinese name (exact/prefix/substring), pinyin, initials, id, phone tail; bad input."""

from __future__ import annotations

import pytest

from crm_adapter.errors import InvalidInput
from crm_adapter.models import Role
from crm_adapter.sql import SqlCRM
from tests.crm_adapter.factories import make_client, make_staff


def _ids(crm: SqlCRM, query: str, actor: str = "ADM01", limit: int = 10) -> list[str]:
    return [c.client_id for c in crm.search_clients(actor=actor, query=query, limit=limit)]


@pytest.mark.parametrize(
    "query", ["zhangwei", "ZhangWei", "zhang wei", "zhang'wei", "zw", "ZW", "zhangw", "zhan"]
)
def test_homophones_by_pinyin_and_initials(org: SqlCRM, query: str) -> None:
    assert set(_ids(org, query, actor="RM001")) == {"C0001", "C0002"}


def test_chinese_name_exact_prefix_substring_ranking(org: SqlCRM) -> None:
    make_client(org, client_id="C0010", name="张伟明", rm_code="RM001")  # prefix of 张伟
    make_client(org, client_id="C0011", name="欧阳张伟", rm_code="RM001")  # substring
    make_client(org, client_id="C0012", name="张伟", rm_code="RM002")  # second exact match
    assert _ids(org, "张伟") == ["C0001", "C0012", "C0010", "C0011"]
    assert _ids(org, "伟") == ["C0001", "C0002", "C0010", "C0011", "C0012"]  # substring only: by id
    assert _ids(org, "张") == ["C0001", "C0012", "C0010", "C0011"]  # prefix: by name, then id


def test_limit_keeps_best_ranks(org: SqlCRM) -> None:
    for i in range(15):
        make_client(org, client_id=f"C{100 + i}", name="张伟明", rm_code="RM001")
    top = _ids(org, "张伟", limit=3)
    assert top[0] == "C0001" and len(top) == 3


def test_client_id_and_phone_tail(org: SqlCRM) -> None:
    assert _ids(org, "C0003") == ["C0003"]
    assert _ids(org, "c0003") == ["C0003"]
    assert _ids(org, "5678") == ["C0001"]  # tail of 13812345678
    assert _ids(org, "13812345678") == ["C0001"]
    assert _ids(org, "2345678") == ["C0001"]
    assert _ids(org, "5678", actor="RM002") == []


def test_polyphonic_surname_and_latin_names(org: SqlCRM) -> None:
    make_client(org, client_id="C0020", name="曾志远", rm_code="RM001")
    make_client(org, client_id="C0021", name="David Wang", rm_code="RM001")
    assert _ids(org, "zengzhiyuan") == ["C0020"]
    assert _ids(org, "zzy") == ["C0020"]
    assert "C0021" in _ids(org, "david")
    assert _ids(org, "wang") == ["C0004", "C0021"]  # 王芳 (pinyin prefix) before the latin substring


@pytest.mark.parametrize(
    "query",
    ["%", "_", "\\", "%%", "张%", "_伟", "' OR '1'='1", '"; DROP TABLE crm_clients; --', "😀", "张伟😀", "*"],
)
def test_metacharacters_and_odd_queries_match_literally(org: SqlCRM, query: str) -> None:
    assert _ids(org, query) == []
    assert len(_ids(org, "张伟")) == 1  # the table is still there


def test_long_substring_query_uses_escaped_scan(org: SqlCRM) -> None:
    make_client(org, client_id="C0030", name="阿卜杜拉·买买提·艾力克木", rm_code="RM001")
    assert _ids(org, "杜拉·买买提·艾力克") == ["C0030"]  # 10 chars: beyond the term table
    assert _ids(org, "杜拉%买买提·艾力克") == []


@pytest.mark.parametrize("query", ["", "   ", "张" * 51])
def test_empty_or_huge_query_is_invalid(org: SqlCRM, query: str) -> None:
    with pytest.raises(InvalidInput):
        org.search_clients(actor="RM001", query=query)


@pytest.mark.parametrize("limit", [0, -1, 101])
def test_bad_limit(org: SqlCRM, limit: int) -> None:
    with pytest.raises(InvalidInput):
        org.search_clients(actor="RM001", query="张", limit=limit)


def test_full_width_input_is_normalised(org: SqlCRM) -> None:
    assert set(_ids(org, "ＺＷ")) == {"C0001", "C0002"}


def test_renamed_client_is_found_by_new_name_only(org: SqlCRM) -> None:
    make_client(org, client_id="C0003", name="李丽娜", rm_code="RM002")
    assert _ids(org, "丽") == ["C0003"]
    make_client(org, client_id="C0003", name="李娜", rm_code="RM002")
    assert _ids(org, "丽") == []
    assert _ids(org, "lina") == ["C0003"]


@pytest.mark.parametrize("team_size", [1, 2, 3])
def test_scoped_search_ranks_like_the_unscoped_search(org: SqlCRM, team_size: int) -> None:
    """Whichever statement a scoped search uses (one RM: an equality; up to `_LIKE_SCAN_MAX_RMS`: a LIKE
    scan of their clients; more: the term index), it returns what the unscoped search ranks, in the
    same order, minus the clients outside the scope."""
    team = [f"RT{i}" for i in range(team_size)]
    for code in team:
        make_staff(org, code, team="T")
    make_staff(org, "SUPT", role=Role.SUPERVISOR, name="团队主管", team="T")
    names = ["张伟", "张伟明", "欧阳张伟", "章伟", "李娜", "David Zhang", "张三"]
    for i, name in enumerate(names * 2):  # a third of them outside the team
        owner = "RM002" if i % 3 == 0 else team[i % team_size]
        make_client(org, client_id=f"C{500 + i}", name=name, rm_code=owner, phone=f"1390000{i:04d}")
    for query in ["张伟", "伟", "张", "zhang", "zw", "zhangwei", "C50", "c501", "0004", "david", "na"]:
        everyone = org.search_clients(actor="ADM01", query=query, limit=100)
        expected = [c.client_id for c in everyone if c.rm_code in team]
        assert expected or query == "na", query  # most queries do hit the team
        assert _ids(org, query, actor="SUPT", limit=20) == expected, query
