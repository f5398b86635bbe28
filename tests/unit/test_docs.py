"""The repository documents itself: no file cites design or style notes that are not in the repository, every
relative Markdown link of the main documentation pages points to a file that exists, and every citation of a
section of docs/design.md names a section that exists."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
THIS = Path(__file__).resolve().relative_to(ROOT).as_posix()

# Former internal notes, never part of the repository; written split so that no copy of this file matches itself.
FORBIDDEN = ("DESIGN" + ".md", "STYLE" + ".md")
LINKED_PAGES = ("docs/design.md", "tests/README.md", "plugins/README.md")
DESIGN = "docs/design.md"


_UNTRACKED_DIRS = {".git", ".venv", "build", "runs", "__pycache__", ".pytest_cache", ".benchmarks"}


def tracked_files() -> list[str]:
    """Paths (relative to the repository root) of the files git tracks; outside a git checkout, every file of
    the source tree except build outputs, virtual environments and run directories."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        return [path.relative_to(ROOT).as_posix() for path in ROOT.rglob("*") if path.is_file()
                and not _UNTRACKED_DIRS & set(path.relative_to(ROOT).parts)
                and not any(part.endswith((".egg-info", ".zarr")) for part in path.relative_to(ROOT).parts)]


def text_of(path: str) -> str | None:
    """The file's text, or None for a binary file (one with a NUL byte) or one missing from the working tree."""
    try:
        data = (ROOT / path).read_bytes()
    except OSError:
        return None
    if b"\0" in data:
        return None
    return data.decode("utf-8", "replace")


# -- Markdown links -------------------------------------------------------------------------------------------
_FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`]*`")
_INLINE = re.compile(r"!?\[[^\]]*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)", re.MULTILINE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def markdown_links(text: str) -> list[str]:
    """Targets of the inline, image and reference-style links of a Markdown text, outside code."""
    text = _CODE_SPAN.sub("", _FENCE.sub("", text))
    targets = [m.group(1) for m in _INLINE.finditer(text)] + [m.group(1) for m in _REFERENCE.finditer(text)]
    return [t[1:-1] if t.startswith("<") and t.endswith(">") else t for t in targets]


def relative_target(target: str) -> str | None:
    """The path part of a relative link (no URL scheme, fragment or query), or None for any other link."""
    if not target or target.startswith("#") or _SCHEME.match(target):
        return None
    return unquote(re.split(r"[#?]", target, maxsplit=1)[0]) or None


def test_the_link_parser() -> None:
    text = (
        "See [the store](../vaetk/darcy/_store.py), ![a figure](img/fig.png \"Fig. 1\"), [web](https://example.org),\n"
        "[mail](mailto:a@b.c), [a section](#3-data-flow), [with anchor](other.md#part), [`code`](<a b.md>) and\n"
        "[ref]. Not `[code](span.md)`.\n\n```\n[fenced](fenced.md)\n```\n\n[ref]: ref/target.md \"title\"\n"
    )
    links = markdown_links(text)
    assert links == ["../vaetk/darcy/_store.py", "img/fig.png", "https://example.org", "mailto:a@b.c",
                     "#3-data-flow", "other.md#part", "a b.md", "ref/target.md"]
    assert [relative_target(t) for t in links] == ["../vaetk/darcy/_store.py", "img/fig.png", None, None, None,
                                                   "other.md", "a b.md", "ref/target.md"]


def test_no_file_cites_notes_outside_the_repository() -> None:
    hits = []
    for path in tracked_files():
        if path == THIS:
            continue
        text = text_of(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if any(name in line for name in FORBIDDEN):
                hits.append(f"{path}:{number}: {line.strip()}")
    assert not hits, (
        f"{len(hits)} line(s) cite {' or '.join(FORBIDDEN)}, which are not in the repository; cite the section of "
        f"{DESIGN} that says it instead (or drop the citation):\n" + "\n".join(hits)
    )


@pytest.mark.parametrize("page", LINKED_PAGES)
def test_relative_markdown_links_point_to_existing_files(page: str) -> None:
    path = ROOT / page
    assert path.is_file(), f"{page} is missing"
    broken = []
    for target in markdown_links(path.read_text(encoding="utf-8")):
        relative = relative_target(target)
        if relative is None:
            continue
        resolved = (ROOT / relative.lstrip("/") if relative.startswith("/") else path.parent / relative).resolve()
        if not resolved.exists():
            shown = resolved.relative_to(ROOT) if resolved.is_relative_to(ROOT) else resolved
            broken.append(f"{target} (resolves to {shown})")
    assert not broken, f"{page} links to files that do not exist:\n" + "\n".join(broken)


def test_citations_of_design_sections_name_existing_sections() -> None:
    headings = set()
    for line in (ROOT / DESIGN).read_text(encoding="utf-8").splitlines():
        match = re.match(r"#{2,3} (\d+(?:\.\d+)?)\.? ", line)
        if match:
            headings.add(match.group(1))
    assert headings, f"{DESIGN} has no numbered sections"
    cited = re.compile(re.escape(DESIGN) + r",? sections? (\d+(?:\.\d+)?)")
    unknown = []
    for path in tracked_files():
        text = text_of(path)
        if text is None or path == THIS:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            unknown += [f"{path}:{number}: section {m.group(1)}" for m in cited.finditer(line)
                        if m.group(1) not in headings]
    assert not unknown, (f"citations of {DESIGN} sections that do not exist (it has {', '.join(sorted(headings))}):\n"
                         + "\n".join(unknown))
