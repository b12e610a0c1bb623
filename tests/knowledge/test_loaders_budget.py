"""Loaders work within an element and time budget: hostile files fail fast with a named error."""

from __future__ import annotations

import io
import time
from copy import deepcopy
from pathlib import Path

import pytest

from knowledge import loaders
from knowledge.loaders import DocumentTooComplex, LoaderError, load_file
from tests.knowledge.cjk_pdf import regulation_pdf


def _docx(path: Path, paragraphs: int, text: str = "\u200b", *, style: str | None = None) -> Path:
    import docx

    document = docx.Document()
    document.add_paragraph("正文内容")
    template = document.add_paragraph(text, style=style)._p
    body = document.element.body
    for _ in range(paragraphs):
        body.append(deepcopy(template))
    buf = io.BytesIO()
    document.save(buf)
    path.write_bytes(buf.getvalue())
    return path


def test_docx_paragraph_bomb_fails_fast(tmp_path: Path) -> None:
    """A ~46 KB .docx of 100k invisible paragraphs used to take minutes (a style scan per paragraph)."""
    bomb = _docx(tmp_path / "bomb.docx", 100_000)
    assert bomb.stat().st_size < 100_000
    started = time.monotonic()
    with pytest.raises(DocumentTooComplex, match=r"段落数 [\d,]+，上限 50,000") as caught:
        load_file(bomb)
    assert time.monotonic() - started < 3.0
    assert isinstance(caught.value, LoaderError)  # batch ingests name the file and carry on
    assert "\n" not in str(caught.value)


def test_many_styled_paragraphs_under_the_budget_load_quickly(tmp_path: Path) -> None:
    """Style lookups are resolved once per style, not once per paragraph."""
    path = _docx(tmp_path / "long.docx", 20_000, "第一条 内容", style="Heading 2")
    started = time.monotonic()
    doc = load_file(path)
    assert time.monotonic() - started < 8.0  # far below one style scan per paragraph
    assert doc.text.count("## 第一条 内容") == 20_001


def test_invisible_paragraphs_are_empty(tmp_path: Path) -> None:
    path = _docx(tmp_path / "zw.docx", 10)
    assert load_file(path).text == "正文内容"


def test_time_budget_names_the_problem(tmp_path: Path) -> None:
    path = _docx(tmp_path / "slow.docx", 10, "段落")
    with pytest.raises(DocumentTooComplex, match="超时"):
        load_file(path, seconds=0.0)


def test_pdf_page_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "long.pdf"
    path.write_bytes(regulation_pdf("第一条　内容。\n" * 200, lines_per_page=10))
    monkeypatch.setattr(loaders, "MAX_PDF_PAGES", 5)
    with pytest.raises(DocumentTooComplex, match="页数"):
        load_file(path)
    monkeypatch.setattr(loaders, "MAX_PDF_PAGES", 2_000)
    assert "内容" in load_file(path).text


def test_sheet_cell_and_csv_row_budgets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["问题", "答案"])
    for i in range(50):
        sheet.append([f"问题{i}", f"答案{i}"])
    xlsx = tmp_path / "faq.xlsx"
    book.save(xlsx)
    csv = tmp_path / "faq.csv"
    csv.write_text("问题,答案\n" + "".join(f"问{i},答{i}\n" for i in range(50)), encoding="utf-8")
    assert len(load_file(xlsx).entries) == 50 and len(load_file(csv).entries) == 50

    monkeypatch.setattr(loaders, "MAX_SHEET_CELLS", 20)
    monkeypatch.setattr(loaders, "MAX_CSV_ROWS", 10)
    with pytest.raises(DocumentTooComplex, match="单元格数"):
        load_file(xlsx)
    with pytest.raises(DocumentTooComplex, match="行数"):
        load_file(csv)
