"""The product catalogue (CSV import, CLI, demo data) and the risk/KYC dates of clients on SqlCRM
(SQLite and PostgreSQL). Behaviour every adapter shares is in the port contract suite."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from bot.cli import cli
from crm_adapter.csv_import import import_products_csv, read_products_csv
from crm_adapter.demo import demo_product_rows, seed_demo
from crm_adapter.errors import InvalidInput
from crm_adapter.orm import AccessLogRow, ProductRow
from crm_adapter.products import product_risk, product_row
from crm_adapter.schedule import add_months, assessed_cutoff
from crm_adapter.sql import SqlCRM
from tests.crm_adapter.factories import ADMIN, TODAY, make_client

HEADER = "code,name,type,risk_level,issuer,status\n"


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_row_validation_gives_one_chinese_reason() -> None:
    assert (
        product_risk("R3（中风险）") == "R3"
        and product_risk("高风险") == "R5"
        and product_risk(" r2 ") == "R2"
    )
    for value in ("R6", "R12", "C3", ""):
        with pytest.raises(InvalidInput, match="R1–R5"):
            product_risk(value)
    fields = product_row(
        {"code": " sx-01 ", "name": "  雪球 结构化 ", "type": "收益凭证", "risk_level": "R5"}
    )
    assert (fields.code, fields.name, fields.optional) == ("SX-01", "雪球 结构化", {})
    with pytest.raises(InvalidInput, match="产品状态无效"):
        product_row({"code": "A1", "name": "甲", "type": "基金", "risk_level": "R1", "status": "热卖"})
    with pytest.raises(InvalidInput, match="产品名称不能为空"):
        product_row({"code": "A1", "name": " ", "type": "基金", "risk_level": "R1"})
    with pytest.raises(InvalidInput, match="产品代码格式无效"):
        product_row({"code": "推荐", "name": "甲", "type": "基金", "risk_level": "R1"})


def test_csv_import_reports_bad_rows_and_reimport_never_duplicates(org: SqlCRM, tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_text(
        "\ufeff" + HEADER + "SM0001,鑫享1号私募证券投资基金,私募基金,R5,鑫享资产,在售\n"
        "BAD1,风险等级错,基金,R9,某基金,在售\n"
        "XJ0001,天天利现金管理1号,现金管理,R1,恒信理财\n"  # one cell short
        "GS0090,稳享固收90天持有期理财,固收理财,R2,恒信理财,募集中\n",
        encoding="utf-8",
    )
    report = import_products_csv(org, actor=ADMIN, path=path)
    assert (report.created, report.updated) == (2, 0)
    assert [line for line, _ in report.errors] == [3, 4]
    assert "R1–R5" in report.errors[0][1] and "列数" in report.errors[1][1]
    again = import_products_csv(org, actor=ADMIN, path=path)
    assert (again.created, again.updated) == (0, 2)
    with org.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ProductRow)).scalar() == 2
    [sm] = org.search_products(query="sm0001")
    assert (sm.issuer, sm.status, sm.initials) == ("鑫享资产", "在售", "xx1hsmzqtzjj")
    assert sm.pinyin.startswith("xinxiang1hao")


def test_missing_columns_and_encoding_are_one_line_errors(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("code,name\nA1,甲\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="缺少必需列：type, risk_level"):
        read_products_csv(path)
    path.write_bytes((HEADER + "A1,理财,理财,R1,银行,在售\n").encode("gbk"))
    with pytest.raises(InvalidInput, match="UTF-8"):
        read_products_csv(path)


def test_product_reads_are_not_client_data_but_kyc_reads_are_logged(org: SqlCRM) -> None:
    org.import_products(actor=ADMIN, rows=demo_product_rows()[0])
    make_client(org, client_id="C0001", name="张伟", kyc_review_due=(TODAY + timedelta(days=5)).isoformat())
    with org.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(AccessLogRow)).scalar()
    assert org.search_products(query="私募") and org.list_products()
    [due] = org.kyc_reviews_due(actor="SUP01", today=TODAY)
    assert due.client.client_id == "C0001" and due.days == 5
    with org.engine.connect() as conn:
        rows = conn.execute(select(AccessLogRow.actor, AccessLogRow.action, AccessLogRow.client_id)).all()
    assert len(rows) == (before or 0) + 1 and rows[-1] == ("SUP01", "kyc_reviews", "C0001")


def test_risk_assessment_reads_are_logged(org: SqlCRM) -> None:
    make_client(org, client_id="C0001", name="张伟", risk_assessed_on="2025-01-01")
    with org.engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(AccessLogRow)).scalar()
    due = org.risk_assessments_due(actor="SUP01", today=TODAY, validity_months=12)
    assert due[-1].client.client_id == "C0001" and due[-1].expires == date(2026, 1, 1)  # the others: never
    with org.engine.connect() as conn:
        rows = conn.execute(
            select(AccessLogRow.actor, AccessLogRow.action, AccessLogRow.client_id).order_by(AccessLogRow.id)
        ).all()
    assert len(rows) == (before or 0) + len(due)
    assert sorted(rows[-len(due) :]) == sorted(("SUP01", "risk_assessments", a.client.client_id) for a in due)


@pytest.mark.parametrize("months", [1, 6, 12, 13, 24])
def test_assessed_cutoff_is_the_exact_inverse_of_add_months(months: int) -> None:
    """`assessed_on <= cutoff` selects exactly the assessments expiring by the target day (month ends)."""
    start = date(2023, 1, 1)
    assessed = [start + timedelta(days=n) for n in range(900)]
    for n in range(0, 800, 3):
        day = date(2025, 1, 1) + timedelta(days=n)
        for horizon in (0, 30):
            cutoff = assessed_cutoff(day, validity_months=months, horizon_days=horizon)
            target = day + timedelta(days=horizon)
            assert [a for a in assessed if a <= cutoff] == [
                a for a in assessed if add_months(a, months) <= target
            ], (day, horizon)


def test_demo_catalogue_has_every_risk_level_and_stale_assessments(crm: SqlCRM) -> None:
    seed_demo(crm, clients=30, today=TODAY)
    products = crm.list_products()
    assert {p.risk_level for p in products} == {"R1", "R2", "R3", "R4", "R5"}
    assert all(sum(p.risk_level == r for p in products) >= 2 for r in ("R1", "R2", "R3", "R4", "R5"))
    clients = [crm.get_client(actor=ADMIN, client_id=f"C{i:04d}") for i in range(1, 31)]
    assessed = [c.risk_assessed_on for c in clients]
    assert any(d is None for d in assessed)
    assert any(d is not None and (TODAY - d).days > 366 for d in assessed)
    assert sum(d is not None and (TODAY - d).days < 365 for d in assessed) > 20
    assert crm.kyc_reviews_due(actor=ADMIN, today=TODAY)  # some reviews fall due within 30 days
    assert seed_demo(crm, clients=30, today=TODAY).products == len(products)  # idempotent
    assert len(crm.list_products()) == len(products)


def test_cli_import_products_and_search(tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_text(HEADER + "SM0001,鑫享1号私募证券投资基金,私募基金,R5,鑫享资产,在售\nX,坏,基金,R1,,\n")
    result = run("crm", "import-products", str(path))
    assert result.exit_code == 0, result.output
    assert "新增 1" in result.output and "第 3 行" in result.output and "Traceback" not in result.output
    report = json.loads(run("crm", "import-products", str(path), "--json").stdout)
    assert (report["created"], report["updated"], [e["line"] for e in report["errors"]]) == (0, 1, [3])
    found = json.loads(run("crm", "products", "simu", "--json").stdout)
    assert [p["code"] for p in found] == ["SM0001"] and found[0]["risk_level"] == "R5"
    table = run("crm", "products")
    assert "鑫享1号私募证券投资基金" in table.output and "R5 高风险" in table.output
    missing = run("crm", "import-products", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 1 and "无法打开文件" in missing.output
    assert len(missing.output.strip().splitlines()) == 1


def test_cli_card_shows_the_risk_view() -> None:
    assert run("crm", "seed-demo", "--clients", "12").exit_code == 0
    card = run("crm", "card", "C0001", "--as", "RM001")
    assert card.exit_code == 0 and "风险测评：" in card.output and "KYC 复核到期" in card.output
