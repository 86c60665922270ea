"""Resolve the frames of a report to file:line with the kernel's own
scripts/decode_stacktrace.sh (nm + addr2line on the vmlinux, and on module
.ko files for frames tagged [module]).  The vmlinux needs debug info: add
guest-config/kconfig/optional/debug-info.config with --config-fragment to
get it in harness builds."""
from __future__ import annotations

from pathlib import Path

from harness import proc
from harness.errors import HarnessError

SCRIPT = "scripts/decode_stacktrace.sh"


def find_script(kernel_tree: Path | None) -> Path:
    candidates = [kernel_tree] if kernel_tree else []
    if not candidates:
        from harness import source
        candidates = sorted((source.cache_dir() / "src").glob("linux-*"))
    for tree in candidates:
        if tree and (tree / SCRIPT).is_file():
            return tree / SCRIPT
    raise HarnessError(f"{SCRIPT} not found; pass --kernel-tree (the source the vmlinux "
                       "was built from) or run `harness fetch`")


def decode(text: str, vmlinux: Path, script: Path, modules: Path | None = None) -> str:
    """`text` with every symbol+off/len frame followed by (file:line)."""
    proc.require_tools("addr2line", "nm", "bash")
    if not vmlinux.is_file():
        raise HarnessError(f"--vmlinux {vmlinux}: no such file")
    base = str(script.parent.parent)      # the tree: file names come out relative
    args = ["bash", script, vmlinux, base] + ([modules] if modules else [])
    # bash `read` drops a last line that has no newline
    return proc.run(args, input=text.rstrip("\n") + "\n", timeout=300,
                    what="decode_stacktrace.sh", merge_stderr=False).stdout
