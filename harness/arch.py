"""Architectures as data: one TOML file per architecture in harness/arches/
(tuxmake's way), read by this one module.  What a build makes, how QEMU
boots it and how KCIDB names it come from the row; nothing else in the
harness names an architecture.

    name, kcidb, make_target, image, config_dir, fragment
    [qemu] binary, machine = [...], console, kvm = [...], tcg = [...], smp
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from harness.errors import HarnessError
from harness.tables import Table
from harness.paths import GUEST_CONFIG

ARCHES_DIR = Path(__file__).resolve().parent / "arches"
DEFAULT = "x86_64"


@dataclass(frozen=True)
class Arch:
    name: str
    kcidb: str                      # KCIDB's build.architecture
    make_target: str                # make's target for the boot image
    image: str                      # the boot image, relative to the build directory
    config_dir: str                 # the arch's configs, read by `make tinyconfig`
    fragment: Path                  # its kconfig fragment
    qemu: str                       # the QEMU binary
    machine: tuple[str, ...]        # QEMU's -machine arguments (empty: the default)
    console: str                    # the serial console's device name in the guest
    kvm: tuple[str, ...]            # QEMU arguments under KVM
    tcg: tuple[str, ...]            # ... and under TCG
    smp: str                        # QEMU's -smp value, "{cpus}" filled in
    kernel_args: tuple[str, ...] = ()   # on every guest's command line

    def accel_args(self, accel: str) -> list[str]:
        return list(self.kvm if accel == "kvm" else self.tcg)

    def smp_arg(self, cpus: int) -> str:
        return self.smp.format(cpus=cpus)

    @property
    def image_dir(self) -> str:
        """Where make's progress says the boot image is being made."""
        return self.image.rsplit("/", 1)[0] + "/"


def parse(text: str, where: str = "arch") -> Arch:
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise HarnessError(f"{where}: {e}") from None
    try:
        return _make(d.get("name", where), d, Path(where))
    except KeyError as e:
        raise HarnessError(f"{where}: missing key {e}") from None


def _make(name: str, d: dict, path: Path) -> Arch:
    q = d["qemu"]
    return Arch(d["name"], d["kcidb"], d["make_target"], d["image"], d["config_dir"],
                GUEST_CONFIG / "kconfig" / d["fragment"], q["binary"],
                tuple(q.get("machine", ())), q["console"], tuple(q["kvm"]),
                tuple(q["tcg"]), q["smp"], tuple(d.get("kernel_args", ())))


TABLE = Table(ARCHES_DIR, "architecture", _make)


@lru_cache(maxsize=None)
def get(name: str = DEFAULT) -> Arch:
    return TABLE.get(name)
