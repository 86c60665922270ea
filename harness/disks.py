"""Disk kinds the cells' disks can be: one TOML file each in harness/disks/,
read here.  A kind says how QEMU attaches the disk, what the guest must see
of it (queue/write_cache, queue/fua), and its power-cut model: what of the
logged writes is on the disk when power fails right after an
acknowledgement (harness.durability)."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError

DIR = Path(__file__).resolve().parent / "disks"
# power-cut models
FLUSHED = "flushed"       # a volatile cache: what a flush covered, plus FUA writes
COMPLETED = "completed"   # no volatile cache: every completed write
MODELS = (FLUSHED, COMPLETED)
DEFAULT = "cache"


@dataclass(frozen=True)
class DiskKind:
    name: str
    what: str
    device: str               # the QEMU -device driver
    device_options: str       # more of its properties ("write-cache=off")
    write_cache: str          # what the guest's queue/write_cache must say
    fua: int                  # and queue/fua
    durable: str              # FLUSHED | COMPLETED

    def qemu_device(self, drive: str) -> str:
        return ",".join(p for p in (self.device, f"drive={drive}", self.device_options) if p)

    def mismatch(self, seen: dict) -> str | None:
        """One line when the guest's view of the disk ({"write_cache":
        "write back", "fua": "0"}) is not this kind's; None when it is."""
        wc, fua = seen.get("write_cache"), seen.get("fua")
        if wc is None or fua is None:
            return f"the guest did not report the disk's write cache and FUA ({self.name} disk)"
        if wc != self.write_cache or str(fua) != str(self.fua):
            return (f"the {self.name} disk is not what its row claims: the guest sees "
                    f"write_cache={wc!r} fua={fua} (wants {self.write_cache!r} fua={self.fua})")
        return None


def _load(path: Path) -> DiskKind:
    try:
        t = tomllib.loads(path.read_text())
        kind = DiskKind(path.stem, t["what"], t["device"], t.get("device_options", ""),
                        t["write_cache"], int(t["fua"]), t["durable"])
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as e:
        raise HarnessError(f"disk kind {path.name}: {type(e).__name__}: {e}") from None
    if kind.durable not in MODELS:
        raise HarnessError(f"disk kind {path.name}: durable = {kind.durable!r}, "
                           f"not one of {', '.join(MODELS)}")
    return kind


def kinds(directory: Path = DIR) -> dict[str, DiskKind]:
    return {p.stem: _load(p) for p in sorted(directory.glob("*.toml"))}


def get(name: str) -> DiskKind:
    table = kinds()
    if name not in table:
        raise HarnessError(f"unknown disk kind {name!r}; choose from {', '.join(table)}")
    return table[name]
