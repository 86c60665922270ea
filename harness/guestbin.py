"""The guest's C programs, compiled on the host: statically linked (so the
guest, or a remote host's guest, needs none of the host's libraries), cached
by the hash of their source, and run by the guest from its root (harness.guestroot)."""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from harness import proc
from harness.paths import cache_dir

LIBS = ("-laio", "-luring", "-lpthread")
HEADERS = ("/usr/include/libaio.h", "/usr/include/liburing.h")
_LOCK = threading.Lock()


def compiled(source: Path) -> Path:
    """The static binary built from `source` (a .c file), cached by the hash
    of the source and of the headers beside it (kdsync.h: a changed header
    is a new binary)."""
    h = hashlib.sha256(source.read_bytes())
    for header in sorted(source.parent.glob("*.h")):
        h.update(header.name.encode() + b"\0" + header.read_bytes())
    out = cache_dir() / "guest-bin" / f"{source.stem}-{h.hexdigest()[:12]}"
    with _LOCK:
        if not out.exists():
            proc.require_tools("gcc")
            proc.require_headers(*HEADERS)
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(f"{out.name}.{os.getpid()}")
            proc.run(["gcc", "-O2", "-Wall", "-static", "-o", tmp, source, *LIBS],
                     timeout=180, what=f"compiling {source.name}")
            os.replace(tmp, out)
    return out


def program(path: Path) -> Path:
    """What the guest runs for a workload's program: a C source is compiled,
    anything else is run as it is."""
    return compiled(path) if path.suffix == ".c" else path
