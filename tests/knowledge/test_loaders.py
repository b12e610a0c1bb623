from __future__ import annotations

import csv
from pathlib import Path

import pytest

from knowledge.loaders import LoaderError, load_file, parse_front_matter
from knowledge.pdf_cleanup import clean_pdf_pages, is_page_number


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


# ---------------------------------------------------------------- PDF text cleanup (knowledge.pdf_cleanup)
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("3", True),
        ("- 3 -", True),
        ("— 12 —", True),
        ("第 3 页 共 20 页", True),
        ("第3页", True),
        ("共20页 第3页", True),
        ("3 / 20", True),
        ("Page 3 of 20", True),
        ("2024年", False),
        ("第三条", False),
        ("3.5%", False),
        ("100万元", False),
    ],
)
def test_page_number_lines(line: str, expected: bool) -> None:
    assert is_page_number(line) is expected


WRAPPED = [
    "第十六条　国务院反洗钱行政主管部门设立反洗钱监测分析机构。反洗钱监测分析",
    "机构开展反洗钱资金监测，负责接收、分析大额交易和可疑交易报告，移送分析结",
    "果，并按照规定向国务院反洗钱行政主管部门报告工作情况。",
    "第十七条　国务院反洗钱行政主管部门为履行反洗钱职责，可以从国家有关机关获",
    "取所必需的信息，国家有关机关应当依法提供。",
]


def test_running_headers_page_numbers_and_wraps_are_cleaned() -> None:
    pages = [
        "\n".join(["某某银行 内部培训资料 第1版", *WRAPPED[:3], "第 1 页 共 3 页"]),
        "\n".join(["某某银行 内部培训资料 第1版", *WRAPPED[3:], "12", "第 2 页 共 3 页"]),
        "\n".join(
            [
                "某某银行 内部培训资料 第1版",
                "第十八条　出入境人员携带的现金超过规定金额的，应当申报。",
                "- 3 -",
            ]
        ),
    ]
    cleaned = clean_pdf_pages(pages)
    assert cleaned.removed_headers == ("某某银行 内部培训资料 第1版",)
    assert cleaned.text.split("\n") == [
        "第十六条　国务院反洗钱行政主管部门设立反洗钱监测分析机构。反洗钱监测分析机构开展反洗钱资金监测，"
        "负责接收、分析大额交易和可疑交易报告，移送分析结果，并按照规定向国务院反洗钱行政主管部门报告工作情况。",
        "第十七条　国务院反洗钱行政主管部门为履行反洗钱职责，可以从国家有关机关获取所必需的信息，"
        "国家有关机关应当依法提供。",
        "12",  # a lone number inside the page is content, not a page number
        "第十八条　出入境人员携带的现金超过规定金额的，应当申报。",
    ]


def test_headers_must_repeat_and_sit_at_page_edges() -> None:
    body = "金融机构应当按照规定建立客户尽职调查制度。"
    pages = [f"客户尽职调查要点\n{body}", f"另一个标题\n{body}\n客户尽职调查要点"]
    cleaned = clean_pdf_pages(pages)
    assert cleaned.removed_headers == ("客户尽职调查要点",)
    assert cleaned.text.count(body) == 2
    single = clean_pdf_pages([f"客户尽职调查要点\n{body}\n- 1 -"])
    assert single.text == f"客户尽职调查要点\n{body}"  # one page: no header detection, page number dropped


def test_one_glyph_per_line_layer_is_rejoined() -> None:
    layer = "\n".join("第二条 本法所称反洗钱，是指依照本法规定采取相关措施的行为。") + "\n第\n3\n页"
    assert clean_pdf_pages([layer]).text == "第二条 本法所称反洗钱，是指依照本法规定采取相关措施的行为。"
    column = "序号\n1\n2\n3\n4\n5\n6\n合计"  # a table column of numbers stays as it is
    assert clean_pdf_pages([column]).text == column


def test_letter_spaced_lines_are_closed_up() -> None:
    text = clean_pdf_pages(["第 二 十 九 条  有 下 列 情 形 之 一 的 ：\n用 途 。"]).text
    assert text == "第二十九条 有下列情形之一的：\n用途。"


def test_english_wraps_join_with_a_space_and_hyphens_are_removed() -> None:
    lines = [
        "Financial institutions shall identify the customer and",
        "verify the identity of the beneficial owner before the",
        "business relationship is established, and shall keep iden-",
        "tification records for at least ten years after it ends.",
        "Records shall be kept confidential.",
    ]
    assert clean_pdf_pages(["\n".join(lines)]).text == (
        "Financial institutions shall identify the customer and verify the identity of the beneficial owner "
        "before the business relationship is established, and shall keep identification records for at least "
        "ten years after it ends.\nRecords shall be kept confidential."
    )


def test_structure_and_columns_are_not_reflowed() -> None:
    lines = [
        "第二章　反洗钱监督管理",
        "第十三条　国务院反洗钱行政主管部门组织、协调全国的反洗钱工作，负责反洗钱的资金",
        "监测，监督检查金融机构履行反洗钱义务的情况，履行下列职责",
        "（一）制定或者会同国务院有关金融管理部门制定金融机构反洗钱管理规定",
        "（二）在职责范围内调查可疑交易活动，履行法律规定的其他有关反洗钱的职责",
        "产品名称    风险等级    期限    起购金额    业绩比较基准",
        "稳健理财一号    R2    180天    1万元    3.2%",
    ]
    assert clean_pdf_pages(["\n".join(lines)]).text.split("\n") == [
        lines[0],
        lines[1] + lines[2],
        lines[3],
        lines[4],
        lines[5],
        lines[6],
    ]


def test_page_number_split_over_glyph_lines_under_a_running_header() -> None:
    pages = [f"某某银行 内部资料\n第{n}页的正文，内容各不相同。\n-\n{n}\n-" for n in (1, 2, 3)]
    cleaned = clean_pdf_pages(pages)
    assert cleaned.text.split("\n") == [f"第{n}页的正文，内容各不相同。" for n in (1, 2, 3)]
