"""The docs hold what the data tables hold, their links resolve, and every
command they show parses (TuxMake's scripts/test_doc.py does this for its
own): a line table, disk kind, architecture, workload row or alphabet
dimension added without its row in the docs turns this red."""
import re
import shlex
from pathlib import Path

import pytest

from harness import alphabet, arch, cli, disks, lines, workload

REPO = Path(__file__).resolve().parent.parent
DOCS = sorted((REPO / "docs").rglob("*.md")) + [REPO / "README.md"]
LINK_RE = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE_RE = re.compile(r"```(?:sh|bash|)\n(.*?)```", re.S)


def text(name: str) -> str:
    return (REPO / "docs" / name).read_text()


def slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    h = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return h.replace(" ", "-")


def test_the_readme_is_a_front_door():
    readme = (REPO / "README.md").read_text()
    assert len(readme.encode()) <= 6 * 1024
    for must in ("make test-vm", "make test", "KERNEL_SRC", "results", "docs/"):
        assert must in readme, must


@pytest.mark.parametrize("name", sorted(lines.all_lines()))
def test_every_line_has_its_row(name):
    assert f"`{name}`" in text("lines.md"), name


@pytest.mark.parametrize("name", list(disks.kinds()))
def test_every_disk_kind_has_its_row(name):
    assert f"`{name}`" in text("durability.md"), name


@pytest.mark.parametrize("name", sorted(p.stem for p in arch.ARCHES_DIR.glob("*.toml")))
def test_every_architecture_has_its_row(name):
    assert f"`{name}`" in text("architecture.md"), name


@pytest.mark.parametrize("w", list(workload.all_workloads()), ids=lambda w: w.name)
def test_every_workload_row_has_its_row(w):
    doc = text("workloads.md")
    # the cut rows are documented as a family (cut-SHAPE@KIND)
    assert f"`{w.name}`" in doc or ("@" in w.name and w.name.split("@")[1] in doc), w.name


@pytest.mark.parametrize("name", alphabet.load().names)
def test_every_alphabet_dimension_has_its_row(name):
    assert f"`{name}`" in text("explore.md"), name


def _links():
    for doc in DOCS:
        for target in LINK_RE.findall(doc.read_text()):
            if not re.match(r"^[a-z]+://", target) and not target.startswith("mailto:"):
                yield doc, target


@pytest.mark.parametrize("doc, target", list(_links()),
                         ids=lambda x: x if isinstance(x, str) else x.name)
def test_every_relative_link_resolves(doc, target):
    path, _, anchor = target.partition("#")
    dest = (doc.parent / path).resolve() if path else doc
    assert dest.exists(), f"{doc.name}: {target}"
    if anchor and dest.suffix == ".md":
        heads = [slug(h) for h in re.findall(r"^#+ (.*)$", dest.read_text(), re.M)]
        assert anchor in heads, f"{doc.name}: {target} (headings: {heads[:8]}...)"


def _joined(block: str) -> list[str]:
    """A code block's lines, a line ending in a backslash joined to the next."""
    return block.replace("\\\n", " ").splitlines()


def _commands():
    for doc in DOCS:
        for block in FENCE_RE.findall(doc.read_text()):
            for line in _joined(block):
                line = line.split("  #")[0].strip()
                if line.startswith((".venv/bin/python -m harness ", "harness ")):
                    yield doc.name, line


@pytest.mark.parametrize("doc, line", list(_commands()))
def test_every_harness_command_in_the_docs_parses(doc, line):
    # usage notation: an optional part in brackets is parsed as given
    argv = shlex.split(line.replace("[", " ").replace("]", " "))
    argv = argv[argv.index("harness") + 1:] if "harness" in argv else argv[3:]
    try:
        cli.parser().parse_args(argv)
    except SystemExit as e:
        pytest.fail(f"{doc}: {line!r} does not parse (exit {e.code})")


def _make_lines():
    for doc in DOCS:
        for block in FENCE_RE.findall(doc.read_text()):
            for line in _joined(block):
                line = line.split("#")[0].strip()
                if line.startswith("make "):
                    yield doc.name, line


@pytest.mark.parametrize("doc, line", list(_make_lines()))
def test_every_make_target_in_the_docs_exists(doc, line):
    target = shlex.split(line)[1]
    if "=" in target:
        return
    makefile = (REPO / "Makefile").read_text()
    assert re.search(rf"^{re.escape(target)}:", makefile, re.M), f"{doc}: {line}"


def test_a_table_row_without_docs_is_caught():
    """What a new line table, disk kind or workload without its docs row
    meets: the row's test fails."""
    with pytest.raises(AssertionError):
        test_every_line_has_its_row("9.9-rc")
    with pytest.raises(AssertionError):
        test_every_disk_kind_has_its_row("nvme-zns")
