"""The README is a quickstart and every page of docs/ stays true: the commands they show exist and
parse, the links land on a heading, the reference is the schema's, and no internal history leaks in."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tooling import cli
from tooling.dev import reference

PROJECT = Path(__file__).resolve().parents[2]
PAGES = [PROJECT / "README.md", *sorted((PROJECT / "docs").glob("*.md"))]
TWO_COMMANDS = ("```sh\nmake synth   # set everything up (venv, Terraform CLI config) and synthesize every environment\n"
                "make test    # run the whole test suite\n```")


def _code(text: str) -> list[str]:
    """Inline code spans and the lines of fenced blocks, comments cut."""
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.DOTALL):
        spans += [line.split(" #")[0] for line in block.splitlines()]
    return spans


def _slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.lstrip("#").strip().lower()).replace(" ", "-")


def test_the_readme_starts_with_the_two_commands_and_stays_a_quickstart():
    text = (PROJECT / "README.md").read_text()
    assert text.split("\n", 2)[2].startswith(TWO_COMMANDS)
    assert text.count("\n") <= 300, "the README is a quickstart: move details to docs/"
    assert all(f"(docs/{page.name})" in text for page in PAGES[1:]), "every docs page is linked from the README"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_make_target_a_page_shows_exists(page):
    targets = set(re.findall(r"^([a-z][a-z-]*):", (PROJECT / "Makefile").read_text(), re.MULTILINE))
    shown = {m for span in _code(page.read_text()) for m in re.findall(r"(?:^|\s)make ([a-z][a-z-]*)", span)}
    assert shown - targets == set(), f"{page.name} shows make targets that do not exist"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_spofless_command_a_page_shows_parses(page):
    parser = cli.parser()
    seen = 0
    for span in _code(page.read_text()):
        for match in re.finditer(r"(?:^|\s|/)spofless ((?:[^\s|;&)]+ ?)+)", span):
            words = [w for w in shlex.split(match.group(1).replace("<env>", "dev").replace("<name>", "dev"))
                     if not w.startswith("<") and w not in ("...", "[...]")]
            if not words or words[0] not in parser._subparsers._group_actions[0].choices:  # noqa: SLF001
                continue
            try:
                parser.parse_args(words)
            except SystemExit:
                pytest.fail(f"{page.name}: `spofless {' '.join(words)}` does not parse")
            seen += 1
    if page.name in ("README.md", "commands.md"):
        assert seen, f"{page.name} shows no spofless command"


def test_every_link_between_pages_lands_on_a_heading():
    headings = {page.resolve(): {_slug(line) for line in page.read_text().splitlines() if line.startswith("#")}
                for page in PAGES}
    for page in PAGES:
        for target, anchor in re.findall(r"\]\(((?:docs/)?[\w-]+\.md)?#([\w-]+)\)", page.read_text()):
            path = (page.parent / target).resolve() if target else page.resolve()
            assert path in headings, f"{page.name}: link to missing page {target}"
            assert anchor in headings[path], f"{page.name}: {target}#{anchor} is no heading"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_pages_speak_to_users_not_of_the_projects_history(page):
    assert not re.findall(r"\bissues? \d+\b", page.read_text(), re.IGNORECASE)


def test_the_configuration_reference_is_the_schemas():
    assert reference.main(["--check"]) == 0
