"""Prompt and reply templates stored as data files next to this module, loaded by name."""

from __future__ import annotations

from functools import cache
from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parent


@cache
def load(name: str) -> str:
    """Return the text of template `name` (`prompts/<name>.txt` or `.md`).

    Raises KeyError with the known names when the template does not exist.
    """
    for suffix in (".txt", ".md"):
        path = PROMPTS_DIR / f"{name}{suffix}"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    known = sorted(p.stem for p in PROMPTS_DIR.iterdir() if p.suffix in {".txt", ".md"})
    raise KeyError(f"unknown prompt template {name!r}; known: {', '.join(known)}")
