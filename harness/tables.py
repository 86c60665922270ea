"""One loader for the harness's data tables: a folder of TOML files, one
row each (harness/lines/, harness/disks/, harness/arches/, the explorer's
harness/alphabet/).  It globs, parses, names a broken file in one line, and
answers "unknown X; known: ..." for a name it does not hold; each table
module only turns a parsed row into its own dataclass and checks it.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Generic, TypeVar

from harness.errors import HarnessError

T = TypeVar("T")


@dataclass(frozen=True)
class Table(Generic[T]):
    """The rows of one folder: `what` names a row in messages ("disk kind"),
    `make(name, parsed, path)` builds one (raising HarnessError, KeyError,
    TypeError or ValueError on a bad row), `sort` orders them."""
    folder: Path
    what: str
    make: Callable[[str, dict, Path], T]
    sort: Callable[[T], object] | None = None

    def load(self) -> dict[str, T]:
        rows = [self._one(p) for p in sorted(self.folder.glob("*.toml"))]
        if self.sort:
            rows.sort(key=self.sort)
        return {getattr(r, "name"): r for r in rows}

    def _one(self, path: Path) -> T:
        try:
            parsed = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise HarnessError(f"{self.what} {path.name}: {e}") from None
        try:
            return self.make(path.stem, parsed, path)
        except HarnessError:
            raise
        except KeyError as e:
            raise HarnessError(f"{self.what} {path.name}: missing {e}") from None
        except (TypeError, ValueError) as e:
            raise HarnessError(f"{self.what} {path.name}: {type(e).__name__}: {e}") from None

    def get(self, name: str) -> T:
        rows = self.load()
        if name not in rows:
            raise HarnessError(f"unknown {self.what} {name!r}; known: {', '.join(rows)}")
        return rows[name]

    def names(self) -> list[str]:
        return list(self.load())
