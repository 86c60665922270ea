"""Disk kinds the cells' disks can be: one TOML file each in harness/disks/,
read here.  A kind says how QEMU attaches the disk, what the guest must see
of it (queue/write_cache, queue/fua), and its power-cut model: what of the
logged writes is on the disk when power fails right after an
acknowledgement (harness.durability)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.tables import Table

DIR = Path(__file__).resolve().parent / "disks"
# power-cut models
FLUSHED = "flushed"       # a volatile cache: what a flush covered, plus FUA writes
COMPLETED = "completed"   # no volatile cache: every completed write
MODELS = (FLUSHED, COMPLETED)
DEFAULT = "cache"
# buses, and how the guest names the n-th disk on one (counted from 0 in the
# order QEMU was given them): virtio-blk disks by letter after the plan's
# /dev/vda; SCSI disks by target id, through a link guest-init.sh makes
# (sd names follow asynchronous probing, not the order of the disks)
VIRTIO, SCSI = "virtio-blk", "scsi"
GUEST_NAMES = {VIRTIO: lambda n: f"/dev/vd{chr(ord('b') + n)}",
               SCSI: lambda n: f"/dev/scsi{n}"}


@dataclass(frozen=True)
class DiskKind:
    name: str
    what: str
    device: str               # the QEMU -device driver
    device_options: str       # more of its properties ("write-cache=off")
    write_cache: str          # what the guest's queue/write_cache must say
    fua: int                  # and queue/fua
    durable: str              # FLUSHED | COMPLETED
    bus: str = VIRTIO         # VIRTIO | SCSI: how the guest names it
    controller: str = ""      # the QEMU -device its bus needs, once a VM ("virtio-scsi-pci")
    order: int = 0            # where its rows (cut-*@KIND) come in the workload letters

    def qemu_device(self, drive: str, n: int = 0) -> str:
        """The -device of the n-th disk on this kind's bus."""
        where = f"bus={self.bus}0.0,scsi-id={n}" if self.bus == SCSI else ""
        return ",".join(p for p in (self.device, f"drive={drive}", where,
                                    self.device_options) if p)

    @property
    def writes_through(self) -> bool:
        """iomap may write an O_DSYNC direct write through to it (no
        volatile cache, or FUA) and then runs no sync."""
        return self.write_cache == "write through" or bool(self.fua)

    def guest_name(self, n: int) -> str:
        return GUEST_NAMES[self.bus](n)

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


def _make(name: str, t: dict, path: Path) -> DiskKind:
    kind = DiskKind(name, t["what"], t["device"], t.get("device_options", ""),
                    t["write_cache"], int(t["fua"]), t["durable"],
                    t.get("bus", VIRTIO), t.get("controller", ""), int(t.get("order", 0)))
    if kind.durable not in MODELS:
        raise HarnessError(f"disk kind {path.name}: durable = {kind.durable!r}, "
                           f"not one of {', '.join(MODELS)}")
    if kind.bus not in GUEST_NAMES:
        raise HarnessError(f"disk kind {path.name}: bus = {kind.bus!r}, "
                           f"not one of {', '.join(GUEST_NAMES)}")
    if kind.bus != VIRTIO and not kind.controller:
        raise HarnessError(f"disk kind {path.name}: a {kind.bus} disk needs its controller")
    return kind


def kinds(directory: Path = DIR) -> dict[str, DiskKind]:
    """Every kind, in their `order` (the default first)."""
    return Table(directory, "disk kind", _make, sort=lambda k: (k.order, k.name)).load()


def guest_names(kinds_: list[str]) -> list[str]:
    """The guest's device for each of a VM's disks, of these kinds in order."""
    seen: dict[str, int] = {}
    out = []
    for name in kinds_:
        kind = get(name)
        n = seen.get(kind.bus, 0)
        seen[kind.bus] = n + 1
        out.append(kind.guest_name(n))
    return out


def get(name: str) -> DiskKind:
    return Table(DIR, "disk kind", _make, sort=lambda k: (k.order, k.name)).get(name)
