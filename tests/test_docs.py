"""The documentation stays short, linked and true: README size, links, set-up shared with CI, command lines."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer
from conftest import ROOT

README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
README_LIMIT = 15_000  # a newcomer reads it in minutes; depth goes to docs/

FENCE = re.compile(r"^```.*?^```", re.S | re.M)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)


def _prose(text: str) -> str:
    """Markdown without its fenced code blocks, where `#` lines and brackets are not Markdown."""
    return FENCE.sub("", text)


def _anchors(path: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens, repeats numbered."""
    slugs: set[str] = set()
    counts: dict[str, int] = {}
    for heading in HEADING.findall(_prose(path.read_text())):
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
        slug = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        n = counts.get(slug, 0)
        counts[slug] = n + 1
        slugs.add(slug if n == 0 else f"{slug}-{n}")
    return slugs


def _broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """Relative links whose file is missing (or outside the repository) or whose heading is not in that file."""
    broken = []
    for target in LINK.findall(_prose(path.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.is_relative_to(root):
            broken.append(f"{path.name}: {target}: outside the repository")
        elif not resolved.exists():
            broken.append(f"{path.name}: {target}: no such file")
        elif anchor and (resolved.suffix != ".md" or anchor not in _anchors(resolved)):
            broken.append(f"{path.name}: {target}: no such heading")
    return broken


def test_readme_is_short() -> None:
    assert len(README.read_text()) <= README_LIMIT


def test_docs_folder_holds_the_areas_the_readme_links() -> None:
    names = {p.name for p in DOCS}
    assert {"store.md", "discovery.md", "agent.md", "replication.md", "reports.md"} <= names


@pytest.mark.parametrize("path", [README, *DOCS], ids=lambda p: p.name)
def test_every_relative_link_resolves(path: Path) -> None:
    assert _broken_links(path) == []


def test_link_checker_catches_a_missing_file_a_missing_heading_and_an_escape(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "outside.md").write_text("# Out\n")
    (tmp_path / "docs" / "other.md").write_text(
        "# Other page\n\n## Set-up: two `commands`\n\n```\n# not a heading\n```\n"
    )
    page = tmp_path / "docs" / "page.md"
    page.write_text(
        "# Page\n\n[ok](other.md#set-up-two-commands) [self](#page) [web](https://example.org/x)\n"
        "[a](missing.md) [b](other.md#not-a-heading) [c](../outside.md)\n"
    )
    assert _broken_links(page, root=tmp_path / "docs") == [
        "page.md: missing.md: no such file",
        "page.md: other.md#not-a-heading: no such heading",
        "page.md: ../outside.md: outside the repository",
    ]


def _setup_commands() -> list[str]:
    """The shell lines of the README's first code block under `## Set-up`."""
    section = README.read_text().split("## Set-up", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "README's Set-up has no sh block"
    return block.group(1).strip().splitlines()


def test_ci_runs_the_readmes_two_setup_commands_verbatim() -> None:
    commands = _setup_commands()
    assert len(commands) == 2
    assert commands[0].startswith("python3 -m venv ")  # the machine's python3, any supported version
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    for command in commands:
        assert command in ci_lines


def _command_lines() -> list[tuple[str, str]]:
    """Every `claimtrack ...` line: in code blocks (continuation lines joined), in inline code, in the README's
    command table (whose cells leave out the `claimtrack`)."""
    found = []
    for path in [README, *DOCS]:
        text = path.read_text()
        for block in FENCE.findall(text):
            current: str | None = None
            for raw in [*block.splitlines()[1:-1], ""]:
                line = raw.removeprefix("$ ").removeprefix(".venv/bin/").split("  #", 1)[0].rstrip()
                if current and line.startswith(" ") and line.strip().startswith("["):
                    current += " " + line.strip()
                    continue
                if current:
                    found.append((path.name, current))
                current = line if line.startswith("claimtrack ") else None
        for span in re.findall(r"`([^`]+)`", _prose(text)):
            if span.startswith("claimtrack "):
                found.append((path.name, " ".join(span.split())))
    for row in re.findall(r"^\| `([a-z].*?)` \|", README.read_text(), re.M):
        found += [("README.md table", "claimtrack " + usage) for usage in row.split("`, `")]
    return found


def _check_command_line(root: Any, line: str) -> str | None:
    """None when the line names a real command and only options it (or the root) takes; else what is wrong.

    `root` is the app's command tree (typer's own click); a group is whatever lists sub-commands."""
    words = shlex.split(line.replace("\\|", "|"))[1:]
    command = root
    allowed = {opt for param in root.params for opt in param.opts} | {"--help"}
    root_options = {opt: param for param in root.params for opt in param.opts}
    while words and words[0] in root_options and words[0] != "--help":  # root options before the command
        option = root_options[words.pop(0)]
        if not getattr(option, "is_flag", False) and not getattr(option, "count", False) and words:
            words.pop(0)  # its value (-w DIR)
    while hasattr(command, "list_commands") and words and words[0] in command.list_commands(None):
        command = command.get_command(None, words.pop(0))
        allowed |= {opt for param in command.params for opt in param.opts}
    if hasattr(command, "list_commands") and words and not words[0].startswith("-"):
        return f"no such command: {line}"
    unknown = [w for w in re.findall(r"(?<![\w-])--?[a-z][a-z0-9-]*", " ".join(words)) if w not in allowed]
    return f"unknown option(s) {unknown}: {line}" if unknown else None


def test_every_documented_command_line_exists_with_that_syntax() -> None:
    from claimtrack.cli import app

    root = typer.main.get_command(app)
    lines = _command_lines()
    assert len(lines) > 20  # the tour, the table and every synopsis in docs/
    problems = [f"{where}: {problem}" for where, line in lines if (problem := _check_command_line(root, line))]
    assert problems == []


def test_command_checker_catches_a_wrong_command_and_a_wrong_option() -> None:
    from claimtrack.cli import app

    root = typer.main.get_command(app)
    assert _check_command_line(root, "claimtrack report status --format html") is None
    assert _check_command_line(root, "claimtrack reprot status") == "no such command: claimtrack reprot status"
    assert _check_command_line(root, "claimtrack --help") is None
    assert _check_command_line(root, "claimtrack -v run --due") is None
    assert _check_command_line(root, "claimtrack -w ws status --due") is None
    assert (
        _check_command_line(root, "claimtrack run --dry-run")
        == "unknown option(s) ['--dry-run']: claimtrack run --dry-run"
    )


def test_readme_classifiers_and_requires_python_name_the_same_versions() -> None:
    from packaging.specifiers import SpecifierSet

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    classified = {c.rsplit(" :: ", 1)[1] for c in project["classifiers"] if re.fullmatch(r".*:: 3\.\d+", c)}
    setup = README.read_text().split("## Set-up", 1)[1].split("\n\n", 2)[1]
    in_readme = set(re.findall(r"3\.\d+", setup.split("(", 1)[0]))
    admitted = {f"3.{minor}" for minor in range(8, 20) if f"3.{minor}.0" in SpecifierSet(project["requires-python"])}
    assert classified == in_readme == admitted == {"3.11", "3.12", "3.13"}
