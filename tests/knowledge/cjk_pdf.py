"""A small PDF writer for CJK test documents, with the text-layer defects of real regulation PDFs.

No font file and no PDF library is needed: the text uses the Adobe-GB1 CID font "STSong-Light" that every
PDF viewer provides, with the UniGB-UCS2-H encoding (2-byte UCS-2 codes), which pypdf decodes on
extraction. `regulation_pdf` lays out a law text (Markdown as in bench/regulations/texts, or plain text)
like an official print: title and chapter headings centred, articles as "第一条　……" with wrapped
lines; then it adds the ugly parts on request — a running header on every page after the first, page
numbers in the footer, pages whose text layer puts one glyph per line (each glyph positioned on its own,
with jittering baselines, as OCR layers do) and letter-spaced pages ("第 一 条").
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points
MARGIN = 72
FONT_SIZE = 12
LEADING = 18
PAGE_NUMBER_STYLES = ("dash", "of", "plain", "none")


@dataclass(frozen=True, slots=True)
class Line:
    """One visual line: its text, left x, font size and how its glyphs are written to the text layer."""

    text: str
    x: float
    size: int = FONT_SIZE
    mode: str = "normal"  # "normal" | "glyphs" (one glyph per extracted line) | "spaced" ("第 一 条")


def _hex(text: str) -> str:
    return "<" + text.encode("utf-16-be").hex() + ">"


def _line_ops(line: Line, y: float) -> str:
    if line.mode == "glyphs":
        # Each glyph on its own, baselines alternating by more than 0.8 of the font size: pypdf starts a
        # new line for every glyph.
        jitter = 0.85 * line.size
        return " ".join(
            f"BT /F1 {line.size} Tf 1 0 0 1 {line.x + i * line.size:.1f} {y + (i % 2) * jitter:.1f} Tm "
            f"{_hex(ch)} Tj ET"
            for i, ch in enumerate(line.text)
        )
    if line.mode == "spaced":
        return (
            f"BT /F1 {line.size} Tf 0 TL "
            + " ".join(
                f"1 0 0 1 {line.x + i * line.size:.1f} {y:.1f} Tm {_hex(ch)} Tj T*"
                for i, ch in enumerate(line.text)
            )
            + " ET"
        )
    return f"BT /F1 {line.size} Tf 1 0 0 1 {line.x:.1f} {y:.1f} Tm {_hex(line.text)} Tj ET"


def build_pdf(pages: list[list[tuple[Line, float]]], *, title: str | None = None) -> bytes:
    """A PDF of positioned lines ((line, baseline y) per page); `title` goes to the document info."""
    objects: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        3: b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H "
        b"/DescendantFonts [4 0 R] >>",
        4: b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
        b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> "
        b"/FontDescriptor 5 0 R /DW 1000 >>",
        5: b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] "
        b"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
    }
    kids: list[int] = []
    number = 6
    for page in pages:
        stream = "\n".join(_line_ops(line, y) for line, y in page).encode("latin-1")
        objects[number] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
        objects[number + 1] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % (PAGE_WIDTH, PAGE_HEIGHT, number)
        )
        kids.append(number + 1)
        number += 2
    objects[2] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    info = None
    if title is not None:
        info = number
        objects[info] = b"<< /Title <feff" + title.encode("utf-16-be").hex().encode() + b"> >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets: dict[int, int] = {}
    for n in sorted(objects):
        offsets[n] = len(out)
        out += b"%d 0 obj\n" % n + objects[n] + b"\nendobj\n"
    xref = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for n in range(1, size):
        out += b"%010d 00000 n \n" % offsets[n]
    trailer = b"/Size %d /Root 1 0 R" % size + (b" /Info %d 0 R" % info if info else b"")
    out += b"trailer\n<< " + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _centred(text: str, size: int) -> Line:
    return Line(text, max(MARGIN, (PAGE_WIDTH - len(text) * size) / 2), size)


def layout(text: str, *, chars_per_line: int = 36) -> list[Line]:
    """Typeset a law text: "# 名称" and "## 第一章 总则" centred, paragraphs indented by two glyphs."""
    lines: list[Line] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        raw = raw.strip()
        if not raw or raw.startswith("<!--"):
            continue
        m = re.match(r"^(#{1,6})\s+(.*)$", raw)
        if m:
            lines.append(_centred(m.group(2).strip(), 16 if len(m.group(1)) == 1 else FONT_SIZE))
            continue
        # Official prints separate the label from the article with an ideographic space.
        raw = re.sub(r"^(第[零〇一二两三四五六七八九十百千]+条)\s+", "\\1\u3000", raw)
        first, width = True, chars_per_line - 2
        while raw:
            piece, raw = raw[:width], raw[width:]
            lines.append(Line(piece, MARGIN + (2 * FONT_SIZE if first else 0)))
            first, width = False, chars_per_line
    return lines


def page_number_text(style: str, page: int, total: int) -> str:
    if style == "dash":
        return f"- {page} -"
    if style == "of":
        return f"第 {page} 页 共 {total} 页"
    return str(page)


def regulation_pdf(
    text: str,
    *,
    running_header: str | None = None,
    page_numbers: str = "dash",
    glyph_pages: Collection[int] = (),
    spaced_pages: Collection[int] = (),
    header_on_first_page: bool = False,
    lines_per_page: int = 36,
    chars_per_line: int = 36,
    title: str | None = None,
) -> bytes:
    """A paginated PDF of `text` with the requested defects; page numbers in the sets are 1-based."""
    if page_numbers not in PAGE_NUMBER_STYLES:
        raise ValueError(f"page_numbers must be one of {PAGE_NUMBER_STYLES}")
    body = layout(text, chars_per_line=chars_per_line)
    chunks = [body[i : i + lines_per_page] for i in range(0, len(body), lines_per_page)] or [[]]
    pages: list[list[tuple[Line, float]]] = []
    top = PAGE_HEIGHT - MARGIN
    for n, lines in enumerate(chunks, start=1):
        placed: list[tuple[Line, float]] = []
        if running_header and (n > 1 or header_on_first_page):
            placed.append((_centred(running_header, 9), PAGE_HEIGHT - 40))
        mode = "glyphs" if n in glyph_pages else "spaced" if n in spaced_pages else "normal"
        for k, line in enumerate(lines):
            shown = (
                line
                if mode == "normal" or line.size != FONT_SIZE
                else Line(line.text, line.x, line.size, mode)
            )
            placed.append((shown, top - k * LEADING))
        if page_numbers != "none":
            placed.append((_centred(page_number_text(page_numbers, n, len(chunks)), 9), 36))
        pages.append(placed)
    return build_pdf(pages, title=title)
