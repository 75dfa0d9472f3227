"""The configs that ship with the package, found by name: ``arena run tournament_ring8``.

They live in the repository's top-level ``configs/`` and travel in the wheel as ``arena/configs``
(package data, ``pyproject.toml``), so a name works the same from a clone and from an install.
A path that exists always wins over a name. Each config's description is its file's own first
comment lines, so the list cannot drift from the files.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

__all__ = ["shipped_dir", "shipped", "find", "description", "resolve"]

SUFFIX = ".yaml"


def shipped_dir() -> Path | None:
    """The folder of the shipped configs: ``arena/configs`` in an installed wheel, the
    repository's ``configs/`` in a clone; None where neither exists."""
    package = Path(__file__).resolve().parents[1]
    for folder in (package / "configs", package.parent / "configs"):
        if folder.is_dir() and any(folder.glob(f"*{SUFFIX}")):
            return folder
    return None


def shipped() -> dict[str, Path]:
    """Every shipped config, by name (the file's stem), sorted."""
    folder = shipped_dir()
    if folder is None:
        return {}
    return {p.stem: p for p in sorted(folder.glob(f"*{SUFFIX}")) if p.is_file()}


def _stem(name: str) -> str:
    return name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name


def find(name: str) -> Path | None:
    """The shipped config ``name`` (``.yaml`` optional), or None. Only a bare name is looked
    up: anything with a folder in it is a path."""
    if not name or "/" in name or "\\" in name:
        return None
    return shipped().get(_stem(name))


def resolve(path: str | Path) -> str | Path:
    """``path`` where something exists there (a file, a pipe), else the shipped config of that
    name where there is one, else ``path`` unchanged (its reader then says it is missing)."""
    text = str(path)
    if Path(text).exists():
        return path
    found = find(text)
    return found if found is not None else path


def missing_hint(name: str) -> str:
    """What to add to "no such config file": the shipped names, and the closest one."""
    names = list(shipped())
    if not names or "/" in name:
        return ""
    close = difflib.get_close_matches(_stem(name), names, n=1)
    guess = f"; did you mean {close[0]}?" if close else ""
    return f" (nor a shipped config of that name: `arena list configs` shows them{guess})"


def description(path: Path, width: int = 110, limit: int = 4096) -> str:
    """The config's one-line description: the first sentence of its first comment lines (up to a
    full stop before a capital, a colon ending a line, or a blank comment line), cut at a word
    to ``width`` characters."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:limit]
    except OSError:
        return ""
    words: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            break
        body = stripped.lstrip("#").strip()
        if not body:
            if words:
                break
            continue
        words.append(body)
        if body.endswith(":"):
            break
    paragraph = " ".join(words)
    end = re.search(r"[.:](?=\s+[A-Z]|\s*$)", paragraph)
    sentence = paragraph[: end.start()] if end else paragraph
    if len(sentence) <= width:
        return sentence
    return sentence[: width - 1].rsplit(" ", 1)[0].rstrip(",;:(") + "…"
