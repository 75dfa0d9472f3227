"""The import names ``agents`` and ``games`` are gan-arena's, and other distributions use them too
(OpenAI's Agents SDK, ``openai-agents``, installs an ``agents`` package). pip does not refuse two
distributions that write the same files: the one installed last overwrites the other's
``__init__.py`` and the two packages' modules end up mixed in one folder. This module finds that
before anything is imported, by reading (not importing) each package's ``__init__.py`` for
gan-arena's marker, and says in one line which distribution took the name and what to do."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from arena.core.errors import ArenaError

__all__ = ["check_own_packages", "PackageClash", "OWN"]

OWN = ("agents", "games")
MARKER = "__gan_arena__ = True"


class PackageClash(ArenaError):
    """Another installed distribution owns an import name gan-arena needs."""


def _owners(name: str) -> list[str]:
    """The installed distributions other than gan-arena that declare files of package ``name``."""
    from importlib.metadata import distributions

    found = []
    for dist in distributions():
        dist_name = dist.metadata["Name"] or ""
        if dist_name.lower().replace("_", "-") == "gan-arena":
            continue
        try:
            top = (dist.read_text("top_level.txt") or "").split()
        except OSError:
            top = []
        files = dist.files or []
        if name in top or any(str(f).replace("\\", "/").startswith(f"{name}/") for f in files):
            found.append(dist_name)
    return sorted(set(found))


def check_own_packages() -> None:
    """Raise :class:`PackageClash` where ``agents`` or ``games`` resolves to a package that is not
    gan-arena's (its ``__init__.py`` lacks the marker); nothing is imported."""
    for name in OWN:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        origin = spec.origin if spec is not None else None
        if origin is None:
            raise PackageClash(f"gan-arena's package {name!r} is missing from this environment; reinstall it "
                               f"(pip install --force-reinstall gan-arena)")
        try:
            text = Path(origin).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if MARKER in text:
            continue
        others = _owners(name)
        who = f" by {', '.join(others)}" if others else ""
        raise PackageClash(
            f"the import name {name!r} ({origin}) was taken over{who}, which installs a package of the same name; "
            f"gan-arena cannot run beside it in one environment: use a virtual environment of its own "
            f"(python -m venv), or pip uninstall {others[0] if others else 'that package'} and then "
            f"pip install --force-reinstall gan-arena")
