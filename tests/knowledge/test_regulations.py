"""Regulations: article parsing, article-aware chunking, PDF text cleanup and generated ugly PDFs.

The fixture tests/knowledge/data/aml_excerpt.md is an excerpt of the 中华人民共和国反洗钱法 (2024 revision;
public text, LawRefBook/Laws, see bench/regulations/texts/README.md).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from knowledge import KnowledgeBase
from knowledge.chunking import chunk_document
from knowledge.loaders import LoadedDocument, load_file
from knowledge.regulations import cn_number, looks_like_law_name, looks_like_regulation, parse_regulation
from tests.knowledge.cjk_pdf import regulation_pdf

DATA = Path(__file__).parent / "data"
AML = (DATA / "aml_excerpt.md").read_text(encoding="utf-8")
AML_TITLE = "中华人民共和国反洗钱法"
AML_ARTICLES = (
    [f"第{n}条" for n in ("一", "二", "三", "四", "五", "六", "七", "八")]
    + [
        f"第{n}条"
        for n in ("二十七", "二十八", "二十九", "三十", "三十一", "三十二", "三十三", "三十四", "三十五")
    ]
    + ["第四十五条"]
)

SNIPPET = """中华人民共和国个人信息保护法
2021年8月20日 第十三届全国人民代表大会常务委员会第三十次会议通过
第一章　总　则
第一条　为了保护个人信息权益，规范个人信息处理活动，促进个人信息合理利用，根据宪法，制定本法。
第二条　自然人的个人信息受法律保护，任何组织、个人不得侵害自然人的个人信息权益。
第二章　个人信息处理规则
第一节　一般规定
第十三条　符合下列情形之一的，个人信息处理者方可处理个人信息：
（一）取得个人的同意；
（二）为履行法定职责或者法定义务所必需；
第十四条　基于个人同意处理个人信息的，该同意应当由个人在充分知情的前提下自愿、明确作出。
第二节　敏感个人信息的处理规则
第二十八条　敏感个人信息是一旦泄露或者非法使用，容易导致自然人的人格尊严受到侵害的个人信息。
第二十九条　处理敏感个人信息应当取得个人的单独同意；法律、行政法规规定应当取得书面同意的，从其规定。
"""


def plain(text: str, title: str = "文档") -> LoadedDocument:
    return LoadedDocument(title=title, kind="text", text=text)


def labels(chunks: list) -> list[str]:
    return [c.heading.split(" > ")[-1] for c in chunks]


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("一", 1),
        ("十", 10),
        ("十二", 12),
        ("二十", 20),
        ("一百零三", 103),
        ("一百一十", 110),
        ("两千零一", 2001),
        ("一〇三", 103),
        ("12", 12),
        ("１２", 12),
        ("条", None),
        ("", None),
    ],
)
def test_chinese_numerals(text: str, value: int | None) -> None:
    assert cn_number(text) == value


def test_articles_chapters_and_sections_become_headings() -> None:
    chunks = chunk_document(plain(SNIPPET, title="中华人民共和国个人信息保护法"))
    assert [c.heading for c in chunks] == [
        "",
        "第一章 总则 > 第一条",
        "第一章 总则 > 第二条",
        "第二章 个人信息处理规则 > 第一节 一般规定 > 第十三条",
        "第二章 个人信息处理规则 > 第一节 一般规定 > 第十四条",
        "第二章 个人信息处理规则 > 第二节 敏感个人信息的处理规则 > 第二十八条",
        "第二章 个人信息处理规则 > 第二节 敏感个人信息的处理规则 > 第二十九条",
    ]
    assert chunks[0].text.startswith("2021年8月20日")  # the title line itself is not repeated
    # One article per chunk, kept whole (items included), the label separated by one space.
    assert chunks[3].text == (
        "第十三条 符合下列情形之一的，个人信息处理者方可处理个人信息：\n"
        "（一）取得个人的同意；\n（二）为履行法定职责或者法定义务所必需；"
    )
    assert [c.index for c in chunks] == list(range(len(chunks)))


def test_cross_references_are_not_articles() -> None:
    text = (
        "第四十条 任何单位和个人应当按照国家有关机关要求对下列名单所列对象采取反洗钱特别预防措施。\n"
        "第四十一条 金融机构应当及时获取本法\n"
        "第四十条第一款规定的名单，对客户及其交易对象进行核查。\n"
        "第五十三条规定的行为，不在此列。\n"
        "第四十二条 第一款规定的名单所列对象除外。\n"
        "第四十二条 特定非金融机构在从事规定的特定业务时，参照本章的相关规定履行反洗钱义务。\n"
        "第二十条 这一条的编号倒退了，是正文而不是新的条。\n"
    )
    chunks = chunk_document(plain(text))
    assert labels(chunks) == ["第四十条", "第四十一条", "第四十二条"]
    assert "第四十条第一款规定的名单" in chunks[1].text
    assert "第五十三条规定的行为" in chunks[1].text
    assert "第四十二条 第一款规定的名单" in chunks[1].text  # a stray space does not make it an article
    assert "编号倒退" in chunks[2].text


def test_articles_run_together_by_a_pdf_layer_are_split() -> None:
    text = (
        "第一章总则第一条为了预防洗钱活动，制定本法。第二条本法所称反洗钱，是指依照本法规定采取相关措施的行为。"
        "依照本法第三条的规定。第三条反洗钱工作应当依法进行。第二章反洗钱监督管理第四条国务院反洗钱行政主管部门负责监督管理。"
    )
    chunks = chunk_document(plain(text))
    assert [c.heading for c in chunks] == [
        "第一章 总则 > 第一条",
        "第一章 总则 > 第二条",
        "第一章 总则 > 第三条",
        "第二章 反洗钱监督管理 > 第四条",
    ]
    assert chunks[1].text.endswith("依照本法第三条的规定。")  # a reference after a sentence end stays
    assert chunks[3].text == "第四条 国务院反洗钱行政主管部门负责监督管理。"


def test_table_of_contents_then_body() -> None:
    text = (
        "某某银行理财业务管理办法\n目  录\n第一章 总则\n第二章 销售管理\n第三章 附则\n"
        "第一章 总则\n第一条 为规范理财业务，制定本办法。\n第二条 本办法适用于全行理财业务。\n"
        "第二章 销售管理\n第三条 销售人员应当具备从业资格。\n第三章 附则\n第四条 本办法自发布之日起施行。\n"
    )
    chunks = chunk_document(plain(text, title="某某银行理财业务管理办法"))
    assert [c.heading for c in chunks] == [
        "",
        "第一章 总则 > 第一条",
        "第一章 总则 > 第二条",
        "第二章 销售管理 > 第三条",
        "第三章 附则 > 第四条",
    ]


def test_long_article_splits_into_parts_that_keep_the_label() -> None:
    items = "".join(
        f"（{n}）第{n}项情形，金融机构应当按照规定采取风险管理措施并记录；\n" for n in range(1, 30)
    )
    text = f"第一条 总则。\n第二条 短条。\n第三条 有下列情形之一的：\n{items}第四条 附则。\n"
    chunks = chunk_document(plain(text), target=200, overlap=40)
    parts = [c for c in chunks if c.heading.startswith("第三条")]
    assert len(parts) > 2
    assert parts[0].heading == "第三条" and all(p.heading == "第三条（续）" for p in parts[1:])
    assert parts[0].text.startswith("第三条 有下列情形之一的")
    assert all(len(p.text) <= 400 for p in parts)
    assert squash("".join(p.text for p in parts)) == squash(f"第三条 有下列情形之一的：{items}")
    assert labels(chunks)[-1] == "第四条"


def test_markdown_regulation_and_title() -> None:
    doc = LoadedDocument(title=AML_TITLE, kind="markdown", text=AML)
    chunks = chunk_document(doc)
    assert labels(chunks) == ["", *AML_ARTICLES]
    assert chunks[1].heading == "第一章 总则 > 第一条"
    assert chunks[9].heading == "第三章 反洗钱义务 > 第二十七条"  # the excerpt skips 第二章
    assert chunks[-1].heading == "第四章 反洗钱调查 > 第四十五条"
    assert all(AML_TITLE not in c.text for c in chunks)  # the "# title" heading is not a chunk
    assert "INFO END" not in chunks[0].text


def test_plain_documents_keep_todays_chunking() -> None:
    assert not looks_like_regulation("第0条规定客户经理应当在三个工作日内完成回访并记录结果。")
    text = "机场贵宾服务\n钻石客户每年可使用贵宾厅6次。\n第一条规定的情形除外。\n白金客户每年3次。"
    assert not looks_like_regulation(text)
    assert parse_regulation(text) is None
    # Titled as the loader titles it (its first short line): one chunk, no article headings.
    assert [c.heading for c in chunk_document(plain(text, title="机场贵宾服务"))] == [""]
    assert looks_like_regulation(SNIPPET)


def test_law_names() -> None:
    assert looks_like_law_name("中华人民共和国反洗钱法")
    assert looks_like_law_name("商业银行理财业务监督管理办法")
    assert looks_like_law_name("金融机构客户尽职调查和客户身份资料及交易记录保存管理办法（试行）")
    assert not looks_like_law_name("第三条 依照本法")
    assert not looks_like_law_name("- 3 -")


# ---------------------------------------------------------------- generated PDFs with the ugly cases
def _pdf(tmp_path: Path, name: str = "aml.pdf", **style: object) -> Path:
    path = tmp_path / name
    path.write_bytes(regulation_pdf(AML, **style))  # type: ignore[arg-type]
    return path


def _assert_articles_intact(path: Path) -> None:
    doc = load_file(path)
    assert doc.title == AML_TITLE
    chunks = chunk_document(doc)
    assert labels(chunks) == ["", *AML_ARTICLES]
    reference = chunk_document(LoadedDocument(title=AML_TITLE, kind="markdown", text=AML))
    for got, want in zip(chunks[1:], reference[1:], strict=True):
        assert got.heading == want.heading
        assert squash(got.text) == squash(want.text)  # only line breaks may differ
    text = doc.text
    assert not re.search(r"第 ?\d+ ?页|- ?\d+ ?-|^\d+$", text, re.MULTILINE)
    assert "内部培训" not in text


def test_pdf_with_running_header_page_numbers_and_glyph_layers(tmp_path: Path) -> None:
    path = _pdf(
        tmp_path,
        running_header="某某银行合规部 内部培训资料",
        page_numbers="of",
        glyph_pages={2},
        spaced_pages={3},
        lines_per_page=24,
    )
    _assert_articles_intact(path)


@pytest.mark.parametrize("style", ["dash", "plain"])
def test_pdf_page_number_styles_and_junk_metadata_title(tmp_path: Path, style: str) -> None:
    path = _pdf(tmp_path, page_numbers=style, glyph_pages={1, 3}, title="Microsoft Word - 附件1.docx")
    _assert_articles_intact(path)


def test_pdf_whose_running_header_is_the_law_name(tmp_path: Path) -> None:
    # The name is printed as the header of every page, the first one included: it is dropped everywhere,
    # and the title comes back from the dropped header.
    path = _pdf(
        tmp_path, running_header=AML_TITLE, header_on_first_page=True, page_numbers="dash", lines_per_page=20
    )
    _assert_articles_intact(path)
    assert load_file(path).text.count(AML_TITLE) == 0


def test_pdf_cjk_lines_are_joined_without_spaces(tmp_path: Path) -> None:
    doc = load_file(_pdf(tmp_path, page_numbers="none"))
    assert (
        "第一条　为了预防洗钱活动，遏制洗钱以及相关犯罪，加强和规范反洗钱工作，"
        "维护金融秩序、社会公共利益和国家安全，根据宪法，制定本法。" in doc.text
    )
    assert "\n预防恐怖主义融资活动适用本法；" in doc.text  # a paragraph of the article keeps its own line


def test_bank_rule_with_arabic_numbers_inserted_articles_and_annex() -> None:
    text = (
        "某某银行客户身份识别实施细则\n"
        "第1条 为落实客户尽职调查要求，制定本细则。\n"
        "第2条 客户经理应当在开户时核实客户身份。\n"
        "第2条之一 代理开户的，应当同时核实代理人身份。\n"
        "第3条 本细则自印发之日起施行。\n"
        "附件1：客户身份核实记录表\n"
        "客户姓名、证件类型、证件号码、核实方式、核实人。\n"
    )
    chunks = chunk_document(plain(text, title="某某银行客户身份识别实施细则"))
    assert [c.heading for c in chunks] == [
        "第1条",
        "第2条",
        "第2条之一",
        "第3条",
        "附件1：客户身份核实记录表",
    ]
    assert chunks[2].text == "第2条之一 代理开户的，应当同时核实代理人身份。"
    assert chunks[-1].text == "客户姓名、证件类型、证件号码、核实方式、核实人。"


def test_knowledge_base_finds_and_quotes_the_article_of_an_ugly_pdf(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    path = _pdf(tmp_path, running_header=AML_TITLE, page_numbers="of", glyph_pages={2}, spaced_pages={3})
    report = kb.ingest([path])
    assert report.ok, report.failed
    hits = kb.search("客户要求开匿名账户，可以给他开吗", top_k=3)
    assert hits[0].title == AML_TITLE
    assert hits[0].heading == "第三章 反洗钱义务 > 第二十八条"
    assert "不得为客户开立匿名账户或者假名账户" in hits[0].text
