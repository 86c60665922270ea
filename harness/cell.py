"""A cell of the matrix: one workload on one variant of one kernel line, one
run.  `CellKey` is its identity everywhere (file names, result.json keys,
comparisons, KCIDB ids, the HTML table); `Cell` is what the matrix runs;
`PlanLine` is how the guest reads it (guest-config/guest-init.sh: one line
NAME|DEVICE|OPTIONS|COMMAND of the plan on /dev/vda).
"""
from __future__ import annotations

from dataclasses import dataclass

from harness.errors import HarnessError

# results written before there were kernel lines were all 5.10, one run a cell
LEGACY_LINE = "5.10"


@dataclass(frozen=True, order=True)
class CellKey:
    line: str
    variant: str
    workload: str
    run: int = 1

    @property
    def id(self) -> str:
        """line-variant-workload-run: every file name and result key."""
        return f"{self.line}-{self.variant}-{self.workload}-{self.run}"

    @property
    def path(self) -> str:
        """line/variant/workload/run: how `harness compare` names a cell."""
        return f"{self.line}/{self.variant}/{self.workload}/{self.run}"

    @property
    def group(self) -> tuple[str, str, str]:
        """The cell without its run: the runs of one claim."""
        return (self.line, self.variant, self.workload)

    def __str__(self) -> str:
        return self.id

    @classmethod
    def of(cls, result: dict) -> "CellKey":
        """The key of a result.json row (a row from before kernel lines has
        no line and no run: 5.10, run 1)."""
        return cls(result.get("line") or LEGACY_LINE, result["variant"], result["workload"],
                   int(result.get("run") or 1))


@dataclass(frozen=True)
class Cell:
    variant: object                  # harness.source.Variant
    workload: object                 # harness.workload.Workload
    run: int = 1

    @property
    def line(self) -> str:
        return self.variant.line

    @property
    def key(self) -> CellKey:
        return CellKey(self.line, self.variant.label, self.workload.name, self.run)

    @property
    def id(self) -> str:
        return self.key.id


@dataclass(frozen=True)
class PlanLine:
    """One cell of a VM's plan, as guest-init.sh reads it: the cell's name,
    where its fresh btrfs lives (ram, /dev/vdX, delay:/dev/vdX, none), its
    mount options and the command.  The fields before the command cannot
    hold '|' or a newline; the command cannot hold a newline."""
    name: str
    device: str
    options: str
    command: str

    def __post_init__(self):
        for what, v in (("name", self.name), ("device", self.device),
                        ("options", self.options)):
            if "|" in v or "\n" in v:
                raise HarnessError(f"plan line: the {what} {v!r} holds '|' or a newline")
        if "\n" in self.command:
            raise HarnessError(f"plan line {self.name}: the command holds a newline")

    def encode(self) -> str:
        return "|".join([self.name, self.device, self.options, self.command])

    @classmethod
    def decode(cls, text: str) -> "PlanLine":
        parts = text.rstrip("\n").split("|", 3)
        if len(parts) != 4:
            raise HarnessError(f"not a plan line (NAME|DEVICE|OPTIONS|COMMAND): {text!r}")
        return cls(*parts)
