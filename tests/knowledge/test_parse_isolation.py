"""Issue #18 item 3: untrusted files are parsed in a limited child process, and bombs are refused by
counts taken while unpacking, before a parser builds them in memory."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest

from knowledge import ingest, loaders, parse_worker
from knowledge.loaders import DocumentTooComplex, LoaderError
from knowledge.parse_worker import load_document

_DOCX_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/'
    'document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main'
    '+xml"/></Types>'
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
    '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)
_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    path.write_bytes(buf.getvalue())
    return path


def _docx(path: Path, body: bytes) -> Path:
    document = f"<w:document {_W}><w:body>".encode() + body + b"</w:body></w:document>"
    return _zip(path, {"[Content_Types].xml": _DOCX_TYPES.encode(), "_rels/.rels": _RELS.encode(),
                       "word/document.xml": document})  # fmt: skip


def test_a_paragraph_bomb_is_refused_while_unpacking(tmp_path: Path) -> None:
    """The attacker's file: a few hundred KB of empty paragraphs (here 2 million) that the parser would
    build into gigabytes before counting."""
    bomb = _docx(tmp_path / "bomb.docx", b"<w:p/>" * 2_000_000)
    assert bomb.stat().st_size < 400_000
    started = time.monotonic()
    with pytest.raises(DocumentTooComplex, match="段落数"):
        load_document(bomb)
    assert time.monotonic() - started < 20  # no parser ran: the count stopped it


def test_a_big_table_is_refused_by_its_cells(tmp_path: Path) -> None:
    cell = b"<w:tc><w:p><w:r><w:t>x</w:t></w:r></w:p></w:tc>"
    row = b"<w:tr>" + cell * 300 + b"</w:tr>"
    table = _docx(tmp_path / "table.docx", b"<w:tbl>" + row * 300 + b"</w:tbl>")
    with pytest.raises(DocumentTooComplex, match=r"单元格数|段落数"):
        load_document(table)


def test_a_sheet_bomb_is_refused_while_unpacking(tmp_path: Path) -> None:
    cells = b'<c t="inlineStr"><is><t>x</t></is></c>' * 600_000
    sheet = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row>'
    bomb = _zip(
        tmp_path / "bomb.xlsx",
        {"xl/worksheets/sheet1.xml": sheet + cells + b"</row></sheetData></worksheet>"},
    )
    with pytest.raises(DocumentTooComplex, match="单元格数"):
        load_document(bomb)


def test_binary_formats_are_parsed_in_a_child_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _docx(tmp_path / "ok.docx", "<w:p><w:r><w:t>第一条 客户经理应当保密。</w:t></w:r></w:p>".encode())

    def in_process(*_: object, **__: object) -> None:
        raise AssertionError("the serving process parsed an upload")

    monkeypatch.setattr(loaders, "load_file", in_process)
    monkeypatch.setattr(parse_worker, "load_file", in_process)
    doc = load_document(good)
    assert "客户经理应当保密" in doc.text and doc.kind == "markdown"


def test_running_out_of_memory_in_the_child_is_one_line(tmp_path: Path) -> None:
    text = "".join(f"<w:p><w:r><w:t>第{i}段 内容内容内容内容</w:t></w:r></w:p>" for i in range(40_000))
    big = _docx(tmp_path / "big.docx", text.encode())
    assert len(load_document(big).text) > 600_000  # fine under the default limit
    with pytest.raises(DocumentTooComplex, match="资源上限") as caught:
        load_document(big, memory_mb=48)  # the child's address space is capped: it fails, we do not
    assert "\n" not in str(caught.value)


def test_a_corrupt_file_is_still_a_loader_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.docx"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(LoaderError) as caught:
        load_document(bad)
    assert not isinstance(caught.value, DocumentTooComplex)


def test_chunks_per_document_are_budgeted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "MAX_CHUNKS_PER_DOCUMENT", 3)
    doc = tmp_path / "long.md"
    doc.write_text("\n\n".join(f"## 第{i}节\n" + "内容。" * 200 for i in range(10)), encoding="utf-8")
    with pytest.raises(DocumentTooComplex, match="上限 3"):
        ingest.prepare("upload:long.md", doc, "d" * 64, existed=False, cache_dir=None)
