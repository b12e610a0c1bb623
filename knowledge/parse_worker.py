"""Untrusted files are parsed in a child process under memory and CPU limits.

A few hundred KB of .docx or .xlsx can unpack into gigabytes of XML (40 million empty paragraphs), and the
parsers build it all in memory before any budget of `knowledge.loaders` is counted. So the binary formats
(.docx, .pdf, .xlsx) are never parsed in the serving process: `load_document` runs `load_file` in
`python -m knowledge.parse_worker`, which first caps its own address space (`PARSE_MEMORY_MB`) and CPU
time, and answers with the loaded document as JSON. Running out of either is a one-line
`DocumentTooComplex`, and the serving process keeps its memory. Text formats (.md, .txt, .csv) are
decoded in process: their size is bounded before they are read (`RM_MAX_UPLOAD_MB`).
"""

from __future__ import annotations

import json
import logging
import resource
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from knowledge.loaders import LOAD_SECONDS, DocumentTooComplex, LoadedDocument, LoaderError, load_file

logger = logging.getLogger(__name__)

#: Address space of one parse (the parsers of a 20 MB document stay far below it).
PARSE_MEMORY_MB = 1024
ISOLATED_SUFFIXES = frozenset({".docx", ".pdf", ".xlsx"})
_TOO_BIG = "文档解析超出资源上限（内存或时间），请精简或拆分后再上传"


def load_document(
    path: Path, *, seconds: float = LOAD_SECONDS, memory_mb: int = PARSE_MEMORY_MB
) -> LoadedDocument:
    """`load_file`, in a limited child process for the binary formats; raises LoaderError."""
    if path.suffix.lower() not in ISOLATED_SUFFIXES:
        return load_file(path, seconds=seconds)
    command = [sys.executable, "-m", "knowledge.parse_worker", str(path), str(seconds), str(memory_mb)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=seconds + 15, check=False)
    except subprocess.TimeoutExpired:
        raise DocumentTooComplex(_TOO_BIG) from None
    try:
        answer = json.loads(done.stdout.decode("utf-8"))
    except ValueError:  # killed (memory, CPU) before it could answer
        logger.warning(
            "parse worker for %s ended with %s: %s", path.name, done.returncode, done.stderr[-300:]
        )
        raise DocumentTooComplex(_TOO_BIG) from None
    if "error" in answer:
        raise (DocumentTooComplex if answer.get("too_complex") else LoaderError)(answer["error"])
    doc = answer["document"]
    return LoadedDocument(
        title=doc["title"],
        kind=doc["kind"],
        text=doc["text"],
        entries=tuple((q, a) for q, a in doc["entries"]),
        metadata=dict(doc["metadata"]),
    )


def _limit(memory_mb: int, seconds: float) -> None:
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(seconds) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))


def _peak_mb() -> float:
    """Peak address space of this process in MB (Linux; 0 where /proc is not there)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmPeak:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0.0


def main(argv: list[str]) -> int:
    """The child: limit itself, load one file, print one JSON object."""
    path, seconds, memory_mb = Path(argv[0]), float(argv[1]), int(argv[2])
    _limit(memory_mb, seconds)
    try:
        answer: dict[str, object] = {"document": asdict(load_file(path, seconds=seconds))}
    except DocumentTooComplex as exc:
        answer = {"error": str(exc), "too_complex": True}
    except LoaderError as exc:
        # C parsers (lxml) report a failed allocation as a syntax error: judge by the memory it reached.
        near_limit = _peak_mb() >= 0.85 * memory_mb
        answer = {"error": _TOO_BIG, "too_complex": True} if near_limit else {"error": str(exc)}
    except MemoryError:
        answer = {"error": _TOO_BIG, "too_complex": True}
    sys.stdout.write(json.dumps(answer, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
