from __future__ import annotations

import itertools

import pytest

from knowledge.chunking import chunk_document, split_sentences
from knowledge.loaders import LoadedDocument


def md(text: str, title: str = "文档") -> LoadedDocument:
    return LoadedDocument(title=title, kind="markdown", text=text)


def plain(text: str) -> LoadedDocument:
    return LoadedDocument(title="文档", kind="text", text=text)


def test_empty_document_has_no_chunks() -> None:
    assert chunk_document(plain("")) == []
    assert chunk_document(md("# 标题\n\n## 小节\n")) == []


def test_sentences_split_on_chinese_and_ascii_terminators() -> None:
    text = "钻石客户每年2次。白金客户1次！真的吗？“好的。”然后；Hello world. It costs 2.5 yuan!"
    assert split_sentences(text) == [
        "钻石客户每年2次。",
        "白金客户1次！",
        "真的吗？",
        "“好的。”",
        "然后；",
        "Hello world.",
        "It costs 2.5 yuan!",
    ]


def test_full_width_and_half_width_variants() -> None:
    assert split_sentences("第一句．第二句；第三句;第四句?第五句!") == [
        "第一句．",
        "第二句；",
        "第三句;",
        "第四句?",
        "第五句!",
    ]


def test_one_huge_line_without_punctuation_is_cut_with_overlap() -> None:
    text = "".join(chr(0x4E00 + i % 500) for i in range(1000))
    chunks = chunk_document(plain(text), target=100, overlap=20)
    assert len(chunks) > 5
    assert all(len(c.text) <= 100 for c in chunks)
    # consecutive pieces overlap by 20 characters and together cover the whole line
    assert chunks[1].text.startswith(chunks[0].text[-20:])
    assert chunks[0].text + "".join(c.text[20:] for c in chunks[1:]) == text


def test_chunks_never_cut_inside_a_sentence() -> None:
    sentences = [f"第{i}条规定客户经理应当在三个工作日内完成回访并记录结果。" for i in range(30)]
    chunks = chunk_document(plain("".join(sentences)), target=120, overlap=40)
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.text.endswith("。")
        assert all(s in sentences for s in split_sentences(chunk.text))
        assert len(chunk.text) <= 120
    # overlap: each chunk after the first starts with the last sentence of the previous one
    for prev, cur in itertools.pairwise(chunks):
        assert cur.text.startswith(split_sentences(prev.text)[-1])


def test_mixed_chinese_and_english_keeps_spaces_between_english_sentences() -> None:
    text = "The KYC review is annual. 客户尽职调查每年一次。AML checks apply to all clients."
    chunks = chunk_document(plain(text), target=300, overlap=0)
    assert [c.text for c in chunks] == [text]


def test_headings_become_heading_path_and_title_h1_is_dropped() -> None:
    doc = md("# 文档\n\n## 医疗\n### 体检\n每年一次。\n## 机场\n贵宾厅每年6次。\n", title="文档")
    chunks = chunk_document(doc)
    assert [(c.heading, c.text) for c in chunks] == [
        ("医疗 > 体检", "每年一次。"),
        ("机场", "贵宾厅每年6次。"),
    ]
    assert [c.index for c in chunks] == [0, 1]


def test_markdown_table_kept_whole_when_small() -> None:
    table = "| 等级 | 体检 |\n|---|---|\n| 钻石 | 2次 |\n| 白金 | 1次 |"
    chunks = chunk_document(md(f"## 权益\n介绍文字。\n\n{table}\n\n后记。"))
    assert table in [c.text for c in chunks]


def test_large_markdown_table_split_by_row_groups_with_header() -> None:
    rows = "\n".join(f"| 权益{i} | 钻石客户 | 每年{i}次 |" for i in range(40))
    table = "| 权益 | 客户 | 次数 |\n|---|---|---|\n" + rows
    chunks = chunk_document(md(table), target=200, overlap=40)
    assert len(chunks) > 2
    for chunk in chunks:
        lines = chunk.text.split("\n")
        assert lines[:2] == ["| 权益 | 客户 | 次数 |", "|---|---|---|"]
        assert all(line.startswith("| 权益") for line in lines[2:])
    # every row appears exactly once
    body = [line for c in chunks for line in c.text.split("\n")[2:]]
    assert body == rows.split("\n")


def test_faq_entries_are_one_chunk_each() -> None:
    doc = LoadedDocument(
        title="FAQ", kind="faq", entries=(("体检几次？", "每年一次。"), ("洗车？", "六折。"))
    )
    chunks = chunk_document(doc)
    assert [c.text for c in chunks] == ["问：体检几次？\n答：每年一次。", "问：洗车？\n答：六折。"]
    assert chunks[0].heading == "体检几次？"


def test_invalid_sizes_rejected() -> None:
    with pytest.raises(ValueError):
        chunk_document(plain("x"), target=100, overlap=100)


def test_plain_text_headings_split_sections_and_give_the_heading_path() -> None:
    text = (
        "客户资料的管理技巧\n"
        "银行应建立严格的保密制度。员工不得外泄客户信息。\n"
        "定制化服务\n"
        "针对不同类别客户，提供以下服务：\n"
        "(1)钻石客户：\n"
        "-家族办公室服务；\n"
        "(2)白金客户\n"
        "-投资顾问服务。\n"
    )
    chunks = chunk_document(plain(text))
    assert [(c.heading, c.text) for c in chunks] == [
        ("客户资料的管理技巧", "银行应建立严格的保密制度。员工不得外泄客户信息。"),
        ("定制化服务", "针对不同类别客户，提供以下服务："),
        ("定制化服务 > (1)钻石客户", "-家族办公室服务；"),
        ("定制化服务 > (2)白金客户", "-投资顾问服务。"),
    ]


def test_plain_text_numbering_sets_the_heading_level() -> None:
    text = "第一章 总则\n正文一。\n一、范围\n正文二。\n1.对象\n正文三。\n二、原则\n正文四。\n"
    assert [c.heading for c in chunk_document(plain(text))] == [
        "第一章 总则",
        "第一章 总则 > 一、范围",
        "第一章 总则 > 一、范围 > 1.对象",
        "第一章 总则 > 二、原则",
    ]


def test_wrapped_lines_page_numbers_and_running_headers_are_not_headings() -> None:
    # A short line continuing an unfinished sentence is a wrap; a line repeated on every page is a header.
    pages = "".join(
        f"第{i}页的正文，写到这里还没有\n{i}\n私人银行家\n写完第{i}句\n接着写完第{i}页。\n" for i in range(4)
    )
    chunks = chunk_document(plain(pages))
    assert {c.heading for c in chunks} == {""}
    assert "写完第0句" in chunks[0].text


def test_a_list_of_short_lines_is_text_not_headings() -> None:
    text = "权益清单\n体检 每年一次\n洗车 六折\n机场贵宾厅\n酒店折扣\n以上权益每年更新。\n"
    chunks = chunk_document(plain(text))
    assert [c.heading for c in chunks] == [""]
    assert all(item in chunks[0].text for item in ("体检 每年一次", "洗车 六折", "酒店折扣"))


def test_a_short_last_line_is_kept_as_text() -> None:
    chunks = chunk_document(plain("正文一句。\n附录"))
    assert [(c.heading, c.text) for c in chunks] == [("", "正文一句。\n附录")]
