"""The documentation stays a page a user can read: the benchmark page short and dated, links alive."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
MAX_LINES = 250
DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
FENCED = re.compile(r"^```[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
MARKER = re.compile(r"<!-- (/?)accuracy:([^>]+?) -->")


def sections(text: str) -> dict[str, str]:
    """Each ``## `` heading of ``text`` and the text up to the next one."""
    parts = re.split(r"^(## .*)$", text, flags=re.MULTILINE)
    return {heading: body for heading, body in zip(parts[1::2], parts[2::2], strict=True)}


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_benchmark_page_is_short():
    lines = BENCHMARKS.read_text(encoding="utf-8").splitlines()
    assert len(lines) < MAX_LINES, f"{len(lines)} lines; move history to docs/experiments/"


def test_every_benchmark_section_is_dated_and_reproducible():
    found = sections(BENCHMARKS.read_text(encoding="utf-8"))
    assert found, "docs/benchmarks.md has no ## sections"
    for heading, body in found.items():
        text = heading + body
        assert DATE.search(text), f"{heading!r} has no date (YYYY-MM-DD)"
        commands = [block for block in FENCED.findall(body) if block.strip()]
        assert commands, f"{heading!r} has no command line in a code block"


def test_accuracy_markers_are_paired():
    """``benchmarks/accuracy.py --write`` and ``forecast_speed.py --write`` replace these blocks."""
    text = BENCHMARKS.read_text(encoding="utf-8")
    opened = [key for slash, key in MARKER.findall(text) if not slash]
    closed = [key for slash, key in MARKER.findall(text) if slash]
    assert opened == closed
    assert len(set(opened)) == len(opened)
    assert "speed" in opened


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_files(path: Path):
    text = FENCED.sub("", path.read_text(encoding="utf-8"))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # http(s), mailto and anchors within the page
        file_part = target.split("#", 1)[0]
        if not (path.parent / file_part).exists():
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)}: links to missing files {broken}"
