import shutil
import subprocess
import sys
from pathlib import Path


from conftest import REPO

WF = REPO / ".github" / "workflows" / "nightly.yml"


def actionlint():
    exe = Path(sys.executable).parent / "actionlint"
    return str(exe) if exe.exists() else shutil.which("actionlint")


def test_nightly_workflow_passes_actionlint():
    exe = actionlint()
    assert exe, "actionlint is installed by `make setup` (requirements.txt)"
    cp = subprocess.run([exe, str(WF)], capture_output=True, text=True)
    assert cp.returncode == 0, cp.stdout + cp.stderr


def test_nightly_workflow_does_what_ci_needs():
    text = WF.read_text()
    for needed in ("schedule:", "workflow_dispatch:", "99-kvm4all.rules",
                   "actions/cache@", "ccache", "--git-url", "--git-ref", "--line",
                   "upload-artifact@", "junit.xml", "harness compare", "fail-fast: false"):
        assert needed in text, needed


def test_nightly_runs_every_line_on_its_moving_branch():
    """One job per kernel line of harness/lines/, each on its branch."""
    import yaml
    from harness import lines
    doc = yaml.safe_load(WF.read_text())
    include = doc["jobs"]["line"]["strategy"]["matrix"]["include"]
    assert {(j["line"], j["branch"]) for j in include} == {
        (name, ln.git_branch) for name, ln in lines.all_lines().items()}
    assert {j["branch"] for j in include} == {"linux-5.10.y", "linux-6.1.y", "linux-6.12.y",
                                              "linux-7.2.y", "master"}


def test_no_path_of_one_machine_in_the_project():
    """Caches, corpora and checkouts are found relative to the checkout or
    through a variable, never at an absolute path of the machine that wrote
    the code (the guest-root test names host paths on purpose: it checks
    that the guest cannot see them)."""
    import re
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split()
    bad = re.compile(r"(?<![\w.])/(work|check)/(main|shared)\b|/root/\.cache\b|/home/\w+/")
    hits = []
    for f in files:
        if (f == "tests/test_guestroot.py" or f.startswith("tests/fixtures/")  # recorded logs
                or f.endswith((".patch", ".img"))):
            continue
        try:
            text = (REPO / f).read_text()
        except (UnicodeDecodeError, OSError):
            continue
        hits += [f"{f}:{n}" for n, line in enumerate(text.splitlines(), 1) if bad.search(line)]
    assert not hits, hits
