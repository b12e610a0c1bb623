"""Read source files into plain text (or FAQ entries) with a title and metadata.

Supported: Markdown (optional front matter), plain text, .docx, .pdf and FAQ sheets (.csv/.xlsx with
question/answer columns). PDF text layers are cleaned (`knowledge.pdf_cleanup`: running headers, page
numbers, line wraps, one-glyph-per-line layers); a law's or rule's name on its first page is its title.
Every failure is a `LoaderError` with a one-line reason, so a batch ingest can name the bad file and
carry on.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.pdf_cleanup import clean_pdf_pages
from knowledge.regulations import looks_like_law_name, looks_like_regulation

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".docx", ".pdf", ".csv", ".xlsx"})

_QUESTION_HEADERS = frozenset({"问题", "question", "questions", "q", "问", "提问", "常见问题"})
_ANSWER_HEADERS = frozenset({"答案", "answer", "answers", "a", "答", "回答", "解答"})
_FRONT_MATTER = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


class LoaderError(Exception):
    """A file that cannot be ingested; the message is a one-line reason."""


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    """A source file's content. `kind` is "markdown" (text may contain #-headings and |tables|),
    "text" (plain paragraphs) or "faq" (`entries` holds (question, answer) pairs)."""

    title: str
    kind: str
    text: str = ""
    entries: tuple[tuple[str, str], ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def category(self) -> str:
        return self.metadata.get("category", "")


def load_file(path: Path) -> LoadedDocument:
    """Load one file; raise LoaderError (unsupported, unreadable, empty, corrupt)."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoaderError(
            f"不支持的文件类型 {suffix or '(无扩展名)'}；支持 {', '.join(sorted(SUPPORTED_SUFFIXES))}"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoaderError(f"无法读取文件：{exc.strerror or exc}") from exc
    if not data.strip():
        raise LoaderError("文件为空")
    try:
        if suffix in {".md", ".markdown"}:
            doc = _load_markdown(_decode(data), path)
        elif suffix == ".txt":
            doc = _load_text(_decode(data), path)
        elif suffix == ".docx":
            doc = _load_docx(data, path)
        elif suffix == ".pdf":
            doc = _load_pdf(data, path)
        elif suffix == ".csv":
            doc = _faq_document(_csv_rows(_decode(data)), path)
        else:
            doc = _faq_document(_xlsx_rows(data), path)
    except LoaderError:
        raise
    except Exception as exc:  # third-party parsers raise anything on corrupt input
        raise LoaderError(f"文件已损坏或格式无法解析（{type(exc).__name__}: {_one_line(str(exc))}）") from exc
    if not (doc.text.strip() or doc.entries):
        raise LoaderError("文件中没有可索引的文字内容")
    return doc


def _one_line(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _decode(data: bytes) -> str:
    # Chinese office files are often GB18030 when not UTF-8.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise LoaderError("无法识别的文本编码（需要 UTF-8 或 GB18030）")


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split simple `key: value` YAML front matter from Markdown; return (metadata, body)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    meta: dict[str, str] = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and not key.startswith((" ", "\t", "#")):
            meta[key.strip().lower()] = value.strip().strip("\"'")
    return meta, text[match.end() :]


def _first_heading(text: str) -> str:
    for line in text.splitlines():
        m = re.match(r"#{1,6}\s+(.+?)\s*#*\s*$", line)
        if m:
            return m.group(1).strip()
    return ""


def _load_markdown(text: str, path: Path) -> LoadedDocument:
    meta, body = parse_front_matter(_normalise_newlines(text))
    title = meta.get("title") or _first_heading(body) or path.stem
    return LoadedDocument(title=title, kind="markdown", text=body, metadata=meta)


def _title_from_text(text: str, path: Path) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            # A short first line reads as a title; a long one is body text.
            return line if len(line) <= 40 else path.stem
    return path.stem


def _load_text(text: str, path: Path) -> LoadedDocument:
    text = _normalise_newlines(text)
    return LoadedDocument(title=_title_from_text(text, path), kind="text", text=text)


def _heading_level(style_name: str) -> int:
    # python-docx style names: "Heading 1", localized "标题 1", and "Title".
    m = re.match(r"(?:heading|标题)\s*(\d)", style_name.strip(), re.IGNORECASE)
    if m:
        return max(1, min(6, int(m.group(1))))
    return 1 if style_name.strip().lower() in {"title", "标题"} else 0


def _load_docx(data: bytes, path: Path) -> LoadedDocument:
    import docx  # python-docx; lazy: only needed for .docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    document = docx.Document(io.BytesIO(data))
    lines: list[str] = []
    first_heading = ""
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            text = block.text.strip()
            if not text:
                continue
            level = _heading_level(block.style.name if block.style is not None else "")
            if level:
                first_heading = first_heading or text
                lines.append("#" * level + " " + text)
            else:
                lines.append(text)
        elif isinstance(block, Table):
            rows = [[" ".join(cell.text.split()) for cell in row.cells] for row in block.rows]
            rows = [r for r in rows if any(r)]
            if rows:
                lines.append("")
                lines.append("| " + " | ".join(rows[0]) + " |")
                lines.append("|" + "---|" * len(rows[0]))
                lines.extend("| " + " | ".join(r) + " |" for r in rows[1:])
                lines.append("")
    title = (document.core_properties.title or "").strip() or first_heading or path.stem
    return LoadedDocument(title=title, kind="markdown", text="\n".join(lines))


def _load_pdf(data: bytes, path: Path) -> LoadedDocument:
    from pypdf import PdfReader  # lazy: only needed for .pdf

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise LoaderError("PDF 已加密，无法读取")
    pages = [(page.extract_text() or "").strip() for page in reader.pages]
    # Running headers/footers, page numbers, line wraps and broken glyph layers (knowledge.pdf_cleanup).
    cleaned = clean_pdf_pages([p for p in pages if p])
    text = cleaned.text
    meta_title = ""
    if reader.metadata is not None and reader.metadata.title:
        meta_title = _usable_pdf_title(str(reader.metadata.title))
    return LoadedDocument(
        title=_pdf_title(text, meta_title, cleaned.removed_headers, path), kind="text", text=text
    )


def _usable_pdf_title(title: str) -> str:
    """The PDF's metadata title, unless it is a converter's file name ("Microsoft Word - 附件1.docx")."""
    title = re.sub(r"^Microsoft (Word|PowerPoint|Excel) - ", "", title.strip())
    if re.search(r"\.(docx?|wps|pdf|xlsx?|pptx?|txt)$", title, re.IGNORECASE):
        return ""
    return title


def _pdf_title(text: str, meta_title: str, headers: tuple[str, ...], path: Path) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if looks_like_law_name(first):
        return first  # a law's or rule's name heads its first page; PDF metadata is often stale
    if meta_title:
        return meta_title
    # The name may only survive as the running header (dropped from every page, the first included).
    if looks_like_regulation(text):
        for header in headers:
            if looks_like_law_name(header):
                return header
    return _title_from_text(text, path)


def _csv_rows(text: str) -> list[list[str]]:
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [list(row) for row in csv.reader(io.StringIO(text), dialect)]


def _xlsx_rows(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook  # lazy: only needed for .xlsx

    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        rows: list[list[str]] = []
        for sheet in workbook.worksheets:
            sheet_rows = [
                ["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)
            ]
            if rows and sheet_rows:
                # Later sheets repeat the header; keep rows only when their header matches the first sheet's.
                if _faq_columns(sheet_rows[0]) is None:
                    continue
                sheet_rows = sheet_rows[1:]
            rows.extend(sheet_rows)
        return rows
    finally:
        workbook.close()


def _faq_columns(header: list[str]) -> tuple[int, int] | None:
    names = [h.strip().lower() for h in header]
    q = next((i for i, n in enumerate(names) if n in _QUESTION_HEADERS), None)
    a = next((i for i, n in enumerate(names) if n in _ANSWER_HEADERS), None)
    return None if q is None or a is None else (q, a)


def _faq_document(rows: list[list[str]], path: Path) -> LoadedDocument:
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise LoaderError("文件为空")
    columns = _faq_columns(rows[0])
    if columns is None:
        raise LoaderError("FAQ 表格缺少表头：需要“问题/答案”或“question/answer”两列")
    q_col, a_col = columns
    entries: list[tuple[str, str]] = []
    for row in rows[1:]:
        question = row[q_col].strip() if q_col < len(row) else ""
        answer = row[a_col].strip() if a_col < len(row) else ""
        if question and answer:
            entries.append((question, answer))
    if not entries:
        raise LoaderError("FAQ 表格没有同时包含问题和答案的行")
    return LoadedDocument(title=path.stem, kind="faq", entries=tuple(entries))
