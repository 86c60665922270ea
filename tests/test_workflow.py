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
                   "actions/cache@", "ccache", "--git-url", "--git-ref",
                   "upload-artifact@", "junit.xml", "harness compare"):
        assert needed in text, needed
