"""Client import (rows and CSV files): validation per row, re-import updates, tiers from AUM."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from crm_adapter.csv_import import import_clients_csv
from crm_adapter.errors import AccessDenied, InvalidInput
from crm_adapter.models import Tier
from crm_adapter.sql import SqlCRM

HEADER = "name,birthday,phone,aum,risk_level,rm_code,client_id,gender,tier,preferences,notes"


def _write(tmp_path: Path, text: str, *, bom: bool = False, name: str = "clients.csv") -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


@pytest.mark.parametrize("bom", [False, True])
def test_csv_good_and_bad_rows(org: SqlCRM, tmp_path: Path, bom: bool) -> None:
    text = "\n".join(
        [
            HEADER,
            "赵敏,1985-03-12,138 0000 1234,12000000,C3,RM001,K001,女,黄金,偏好固收,",  # line 2 ok
            "钱多多,1985-13-40,13800001235,5000000,C2,RM001,K002,,,,",  # 3 bad date
            "孙悟空,1970-01-01,13800001236,abc,C2,RM001,K003,,,,",  # 4 bad aum
            "周芷若,,,,C2,RM001,K004,,,,",  # 5 empty aum
            "吴用,1970-01-01,,60000000,C9,RM001,K005,,,,",  # 6 bad risk level
            "郑和,1970-01-01,,60000000,C5,RM999,K006,,,,",  # 7 unknown RM
            "王五,1970-01-01,,60000000,C5,SUP01,K007,,,,",  # 8 not an RM
            "😀,1970-01-01,,100,C1,RM001,K008,,,,",  # 9 emoji name
            ",1970-01-01,,100,C1,RM001,K009,,,,",  # 10 empty name
            "冯六,1970-01-01,,12000000,C1,RM001,K010,,钻石,,",  # 11 tier contradicts AUM
            "陈七,1970-01-01,,1200万,平衡型,RM002,,男,,,备注",  # 12 ok, id issued, 万 and Chinese risk name
            "赵敏,1985-03-12,,12000000,C3,RM001,K001,,,,",  # 13 duplicate id in the file
            "褚八,2999-01-01,,100,C1,RM001,K011,,,,",  # 14 birthday in the future
            "卫九,1970-01-01,12ab,100,C1,RM001,K012,,,,",  # 15 bad phone
            "蒋十,1970-01-01,,100,C1,RM001,K013,x,,,",  # 16 bad gender
            "沈十一,1970-01-01,,100,C1,RM001,K014,,,,",  # 17 extra column below
        ]
    )
    text += ",extra\n"
    report = import_clients_csv(org, actor="ADM01", path=_write(tmp_path, text, bom=bom))
    assert report.created == 2 and report.updated == 0
    assert [line for line, _ in report.errors] == [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17]
    reasons = dict(report.errors)
    assert (
        "日期" in reasons[3] and "RM999" in reasons[7] and "不符" in reasons[11] and "第 2 行" in reasons[13]
    )
    client = org.get_client(actor="RM001", client_id="K001")
    assert client.name == "赵敏" and client.phone == "13800001234" and client.tier is Tier.GOLD
    assert client.gender == "女" and client.preferences == "偏好固收" and client.birthday is not None
    [issued] = org.search_clients(actor="RM002", query="陈七")
    assert (
        issued.client_id.startswith("C")
        and issued.aum == Decimal("12000000.00")
        and issued.risk_level == "C3"
    )


def test_reimport_updates_instead_of_duplicating(org: SqlCRM, tmp_path: Path) -> None:
    first = _write(
        tmp_path,
        "name,birthday,phone,aum,risk_level,rm_code,client_id,preferences\n"
        "赵敏,1985-03-12,13800001234,12000000,C3,RM001,K001,偏好固收\n",
    )
    assert import_clients_csv(org, actor="ADM01", path=first).created == 1
    # No preferences column this time: the field is kept; AUM change moves the tier.
    second = _write(
        tmp_path,
        "client_id,name,birthday,phone,aum,risk_level,rm_code\n"
        "k001,赵敏,1985-03-12,13800001234,55000000,C4,RM002\n",
        name="again.csv",
    )
    report = import_clients_csv(org, actor="ADM01", path=second)
    assert (report.created, report.updated, report.errors) == (0, 1, ())
    client = org.get_client(actor="ADM01", client_id="K001")
    assert client.tier is Tier.DIAMOND and client.rm_code == "RM002" and client.preferences == "偏好固收"
    assert len(org.search_clients(actor="ADM01", query="赵敏")) == 1


def test_missing_required_column(org: SqlCRM, tmp_path: Path) -> None:
    path = _write(tmp_path, "name,birthday,phone,aum,rm_code\n张三,,,1,RM001\n")
    with pytest.raises(InvalidInput, match="risk_level"):
        import_clients_csv(org, actor="ADM01", path=path)


def test_not_utf8_and_missing_file(org: SqlCRM, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes((HEADER + "\n张三,,,1,C1,RM001,,,,,\n").encode("gbk"))
    with pytest.raises(InvalidInput, match="UTF-8"):
        import_clients_csv(org, actor="ADM01", path=path)
    with pytest.raises(InvalidInput):
        import_clients_csv(org, actor="ADM01", path=tmp_path / "missing.csv")
    with pytest.raises(InvalidInput, match="为空"):
        import_clients_csv(org, actor="ADM01", path=_write(tmp_path, "", name="empty.csv"))


def test_import_requires_admin(org: SqlCRM, tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER + "\n张三,,,1,C1,RM001,,,,,\n")
    with pytest.raises(AccessDenied, match="管理员"):
        import_clients_csv(org, actor="RM001", path=path)


def test_quoted_multiline_cells_keep_line_numbers(org: SqlCRM, tmp_path: Path) -> None:
    text = HEADER + '\n张三,,,1,C1,RM001,Q1,,,,"第一行\n第二行"\n李四,,,abc,C1,RM001,Q2,,,,\n'
    report = import_clients_csv(org, actor="ADM01", path=_write(tmp_path, text))
    assert report.created == 1 and [line for line, _ in report.errors] == [4]
    assert org.get_client(actor="ADM01", client_id="Q1").notes == "第一行\n第二行"


def test_huge_name_and_text(org: SqlCRM) -> None:
    base = {"birthday": "", "phone": "", "aum": "1", "risk_level": "C1", "rm_code": "RM001"}
    rows = [
        {**base, "name": "张" * 201},
        {**base, "name": "张三", "notes": "长" * 2001},
        {**base, "name": "O'Brien"},
        {**base, "name": "张三; DROP TABLE"},
        {**base, "name": "李四", "aum": "-5"},
        {**base, "name": "李四", "aum": "1.234"},
    ]
    report = org.import_clients(actor="ADM01", rows=rows)
    assert report.created == 1
    assert [line for line, _ in report.errors] == [2, 3, 5, 6, 7]
    assert [c.name for c in org.search_clients(actor="ADM01", query="obrien")] == ["O'Brien"]


def test_one_huge_cell_fails_its_row_not_the_import(org: SqlCRM, tmp_path: Path) -> None:
    huge = "备" * 200_000  # over the csv module's own 128 KiB field limit
    text = "\n".join(
        [
            HEADER,
            "赵敏,1985-03-12,,12000000,C3,RM001,K101,女,,,",
            f"钱多多,1985-03-12,,12000000,C3,RM001,K102,女,,,{huge}",
            "孙丽,1985-03-12,,12000000,C3,RM001,K103,女,,,",
        ]
    )
    report = import_clients_csv(org, actor="ADM01", path=_write(tmp_path, text + "\n"))
    assert report.created == 2
    assert [line for line, _ in report.errors] == [3]
    assert "超过" in dict(report.errors)[3]
