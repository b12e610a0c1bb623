from __future__ import annotations

import csv
from pathlib import Path

import pytest

from knowledge.loaders import LoaderError, load_file, parse_front_matter


def make_pdf(path: Path, lines: list[str], title: str | None = None) -> None:
    """A minimal valid one-page PDF with Helvetica text (ASCII only), xref offsets computed."""
    ops = ["BT", "/F1 12 Tf", "72 720 Td", "14 TL"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    if title:
        objects.append(f"<< /Title ({title}) >>".encode("latin-1"))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    info = b" /Info %d 0 R" % len(objects) if title else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info, xref)
    path.write_bytes(bytes(out))


def test_markdown_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("---\ntitle: 增值服务权益\ncategory: 客户权益\n---\n# 别的标题\n正文。", encoding="utf-8")
    doc = load_file(path)
    assert doc.title == "增值服务权益"
    assert doc.category == "客户权益"
    assert doc.kind == "markdown"
    assert doc.text.startswith("# 别的标题")


def test_markdown_without_front_matter_uses_first_heading(tmp_path: Path) -> None:
    path = tmp_path / "b.md"
    path.write_text("# 客户关怀\n生日送祝福。", encoding="utf-8")
    assert load_file(path).title == "客户关怀"
    assert parse_front_matter("no front matter") == ({}, "no front matter")


def test_text_gb18030_and_first_line_title(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_bytes("反洗钱制度\n开户须核实身份。".encode("gb18030"))
    doc = load_file(path)
    assert doc.title == "反洗钱制度"
    assert "核实身份" in doc.text


def test_docx_headings_paragraphs_and_tables(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("机场贵宾服务", level=1)
    document.add_paragraph("钻石客户每年可使用贵宾厅6次。")
    document.add_heading("明细", level=2)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "等级"
    table.cell(0, 1).text = "次数"
    table.cell(1, 0).text = "白金"
    table.cell(1, 1).text = "3次"
    path = tmp_path / "d.docx"
    document.save(str(path))
    doc = load_file(path)
    assert doc.title == "机场贵宾服务"
    assert doc.kind == "markdown"
    assert "# 机场贵宾服务" in doc.text
    assert "## 明细" in doc.text
    assert "| 白金 | 3次 |" in doc.text


def test_pdf_text_and_title(tmp_path: Path) -> None:
    path = tmp_path / "e.pdf"
    make_pdf(
        path, ["KYC review is required every year.", "Blacklisted clients cannot open accounts."], "AML Rules"
    )
    doc = load_file(path)
    assert doc.title == "AML Rules"
    assert "KYC review is required every year." in doc.text
    assert "Blacklisted clients" in doc.text


def test_csv_faq_chinese_headers(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["编号", "问题", "答案"])
        writer.writerow(["1", "体检几次？", "每年一次。"])
        writer.writerow(["2", "", "没有问题的行被跳过"])
        writer.writerow(["3", "洗车几折？", "六折。"])
    doc = load_file(path)
    assert doc.kind == "faq"
    assert doc.entries == (("体检几次？", "每年一次。"), ("洗车几折？", "六折。"))


def test_csv_faq_english_headers(tmp_path: Path) -> None:
    path = tmp_path / "faq_en.csv"
    path.write_text("Question,Answer\nHow many checkups?,One a year.\n", encoding="utf-8")
    assert load_file(path).entries == (("How many checkups?", "One a year."),)


def test_xlsx_faq(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["问题", "答案"])
    ws.append(["钻石客户门槛？", "日均金融资产5000万元以上。"])
    ws.append(["白金客户门槛？", "3000万元以上。"])
    path = tmp_path / "faq.xlsx"
    wb.save(str(path))
    doc = load_file(path)
    assert doc.entries == (
        ("钻石客户门槛？", "日均金融资产5000万元以上。"),
        ("白金客户门槛？", "3000万元以上。"),
    )


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.md", b"", "文件为空"),
        ("blank.txt", b"  \n\n ", "文件为空"),
        ("image.png", b"\x89PNG....", "不支持的文件类型"),
        ("broken.docx", b"this is not a zip file", "损坏"),
        ("broken.pdf", b"%PDF-1.4 garbage", "损坏"),
        ("nofaq.csv", "名字,电话\n张三,123\n".encode(), "表头"),
        ("only_front_matter.md", b"---\ntitle: x\n---\n", "没有可索引"),
    ],
)
def test_bad_files_raise_loader_error(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LoaderError, match=reason):
        load_file(path)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(LoaderError, match="无法读取"):
        load_file(tmp_path / "missing.md")
