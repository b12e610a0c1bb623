"""Read source files into plain text (or FAQ entries) with a title and metadata.

Supported: Markdown (optional front matter), plain text, .docx, .pdf and FAQ sheets (.csv/.xlsx with
question/answer columns). PDF text layers are cleaned (`knowledge.pdf_cleanup`: running headers, page
numbers, line wraps, one-glyph-per-line layers); a law's or rule's name on its first page is its title.
Every failure is a `LoaderError` with a one-line reason, so a batch ingest can name the bad file and
carry on. Work is bounded: a file with more elements (paragraphs, pages, cells, rows) than a real
document has, or one that takes longer than `LOAD_SECONDS` to read, fails fast with `DocumentTooComplex`
instead of holding an ingest for minutes (a 46 KB .docx can hold 100k paragraphs).
"""

from __future__ import annotations

import csv
import io
import logging
import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.pdf_cleanup import clean_pdf_pages
from knowledge.regulations import looks_like_law_name, looks_like_regulation

logger = logging.getLogger(__name__)

#: The one list of file types the knowledge base reads (uploads, `/upload`, `kb ingest` all check this).
SUFFIXES_IN_ORDER = (".md", ".markdown", ".txt", ".docx", ".pdf", ".csv", ".xlsx")
SUPPORTED_SUFFIXES = frozenset(SUFFIXES_IN_ORDER)

_QUESTION_HEADERS = frozenset({"问题", "question", "questions", "q", "问", "提问", "常见问题"})
_ANSWER_HEADERS = frozenset({"答案", "answer", "answers", "a", "答", "回答", "解答"})
_FRONT_MATTER = re.compile(r"\A(?:\ufeff)?---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)
#: Characters str.strip() keeps but that print as nothing (a paragraph of only these is empty).
_INVISIBLE = str.maketrans("", "", "\u200b\u200c\u200d\u2060\ufeff")

#: Budgets far above any real document the bank has (a 500-page manual has ~15k paragraphs).
LOAD_SECONDS = 30.0
MAX_DOCX_BLOCKS = 50_000
MAX_PDF_PAGES = 2_000
MAX_SHEET_CELLS = 500_000
MAX_CSV_ROWS = 100_000
MAX_DOCX_CELLS = 50_000
#: Unpacked XML of one .docx/.xlsx, counted while streaming the archive, before a parser sees it.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024


class LoaderError(Exception):
    """A file that cannot be ingested; the message is a one-line reason."""


class DocumentTooComplex(LoaderError):
    """A file over an element or time budget (see the module docstring)."""


class _Budget:
    """Deadline for one file; `check()` is called once per element read."""

    def __init__(self, seconds: float) -> None:
        self._deadline = time.monotonic() + seconds
        self._seconds = seconds

    def check(self) -> None:
        if time.monotonic() > self._deadline:
            raise DocumentTooComplex(f"文档解析超时（超过 {self._seconds:.0f} 秒），请精简或拆分后再上传")


def _over(what: str, count: int, limit: int) -> DocumentTooComplex:
    return DocumentTooComplex(f"文档过于复杂（{what} {count:,}，上限 {limit:,}），请精简或拆分后再上传")


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


def load_file(path: Path, *, seconds: float | None = None) -> LoadedDocument:
    """Load one file; raise LoaderError (unsupported, unreadable, empty, corrupt, too complex).

    `seconds`: the time budget (default `LOAD_SECONDS`)."""
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
    budget = _Budget(LOAD_SECONDS if seconds is None else seconds)
    try:
        if suffix in {".md", ".markdown"}:
            doc = _load_markdown(_decode(data), path)
        elif suffix == ".txt":
            doc = _load_text(_decode(data), path)
        elif suffix == ".docx":
            doc = _load_docx(data, path, budget)
        elif suffix == ".pdf":
            doc = _load_pdf(data, path, budget)
        elif suffix == ".csv":
            doc = _faq_document(_csv_rows(_decode(data), budget), path)
        else:
            doc = _faq_document(_xlsx_rows(data, budget), path)
    except (LoaderError, MemoryError):
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


def _stream_count(data: bytes, members: str, marker: bytes, what: str, limit: int) -> None:
    """Count `marker` in the archive members whose names match `members`, decompressing in pieces: a
    bomb is refused by its counts before a parser builds it in memory."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise LoaderError(f"文件已损坏或格式无法解析（{exc}）") from None
    unpacked = count = 0
    with archive:
        for info in archive.infolist():
            if not re.fullmatch(members, info.filename):
                continue
            tail = b""
            with archive.open(info) as member:
                while piece := member.read(1 << 20):
                    unpacked += len(piece)
                    if unpacked > MAX_UNPACKED_BYTES:
                        raise _over("解压后字节数", unpacked, MAX_UNPACKED_BYTES)
                    window = tail + piece
                    count += len(re.findall(marker, window)) - len(re.findall(marker, tail))
                    if count > limit:
                        raise _over(what, count, limit)
                    tail = window[-16:]


def _load_docx(data: bytes, path: Path, budget: _Budget) -> LoadedDocument:
    import docx  # python-docx; lazy: only needed for .docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    _stream_count(data, r"word/document\.xml", rb"<w:p[ >/]", "段落数", MAX_DOCX_BLOCKS)
    _stream_count(data, r"word/document\.xml", rb"<w:tc[ >/]", "表格单元格数", MAX_DOCX_CELLS)
    document = docx.Document(io.BytesIO(data))
    blocks = len(document.element.body)
    if blocks > MAX_DOCX_BLOCKS:
        raise _over("段落数", blocks, MAX_DOCX_BLOCKS)
    # python-docx resolves `Paragraph.style` by scanning every style (~1 ms a paragraph): resolve each
    # style id once.
    levels: dict[str | None, int] = {}
    lines: list[str] = []
    first_heading = ""
    for block in document.iter_inner_content():
        budget.check()
        if isinstance(block, Paragraph):
            text = block.text.translate(_INVISIBLE).strip()
            if not text:
                continue
            style_id = block._p.style
            level = levels.get(style_id)
            if level is None:
                style = block.style
                level = levels[style_id] = _heading_level(style.name if style is not None else "")
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


def _load_pdf(data: bytes, path: Path, budget: _Budget) -> LoadedDocument:
    from pypdf import PdfReader  # lazy: only needed for .pdf

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise LoaderError("PDF 已加密，无法读取")
    count = len(reader.pages)
    if count > MAX_PDF_PAGES:
        raise _over("页数", count, MAX_PDF_PAGES)
    pages: list[str] = []
    for page in reader.pages:
        budget.check()
        pages.append((page.extract_text() or "").strip())
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


def _csv_rows(text: str, budget: _Budget) -> list[list[str]]:
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows: list[list[str]] = []
    for row in csv.reader(io.StringIO(text), dialect):
        if len(rows) >= MAX_CSV_ROWS:
            raise _over("行数", len(rows) + 1, MAX_CSV_ROWS)
        budget.check()
        rows.append(list(row))
    return rows


def _xlsx_rows(data: bytes, budget: _Budget) -> list[list[str]]:
    from openpyxl import load_workbook  # lazy: only needed for .xlsx

    _stream_count(data, r"xl/(worksheets/[^/]+|sharedStrings)\.xml", rb"<c[ >/]", "单元格数", MAX_SHEET_CELLS)
    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        rows: list[list[str]] = []
        cells = 0
        for sheet in workbook.worksheets:
            sheet_rows: list[list[str]] = []
            for row in sheet.iter_rows(values_only=True):
                budget.check()
                cells += len(row)
                if cells > MAX_SHEET_CELLS:
                    raise _over("单元格数", cells, MAX_SHEET_CELLS)
                sheet_rows.append(["" if v is None else str(v) for v in row])
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
