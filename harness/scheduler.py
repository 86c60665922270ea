"""The VM queue: chains waiting for a VM, and which may run side by side.

Chains come from harness.plan with a kind (heavy, light, quiet); worker
threads take them one at a time (`get`), and the builder says when no more
will come (`close`)."""
from __future__ import annotations

import threading
from contextlib import contextmanager

from harness.cell import Cell
from harness.plan import HEAVY, LIGHT, QUIET, chain_seconds


class ChainQueue:
    """Chains waiting for a VM, and how many are still to come.

    How chains share the host's two cores, by `chain_kind`:
    - quiet: a cell claimed to FAIL with a bug that needs its timing (a race
      control, a delay-ordered control) runs alone, and only once every
      build is done.  A race needs both vCPUs running at once; beside a
      kernel build (make -j2) or another VM they take turns on the cores,
      and the control stops failing (6.1's revert-race PASSed a 15 s
      fsync-race beside a 6.12 build, 2721 writes and 660 fsyncs);
    - light: a VM that is mostly a boot and a report, or mostly waiting:
      every cell claimed to FAIL with a bug that shows at its first write
      whatever the timing (`Bug.deterministic`: the seed's deadlock) or a
      workload that waits on dm-delay's timers or its power-cut check
      (`Workload.waits`); and a power-cut check VM (`light_slot`: once a
      chain's VM is over it holds no slot, `release`, and each of its
      after-run check VMs takes a light one);
    - heavy: the rest.  At most `jobs` heavy VMs at once (default one: two
      2-vCPU guests on two cores slow each other), and at most `shared_jobs`
      VMs in all (default 3), so light VMs run beside a heavy one.

    A free slot takes a heavy chain first, the longest (by `chain_seconds`)
    that may start; the light ones fill in beside it, and the quiet ones run
    when the host is free."""

    def __init__(self, jobs: int = 1, shared_jobs: int = 1, kind=lambda chain: HEAVY):
        self.chains: list = []
        self.cond = threading.Condition()
        self.pending = 0            # chains queued or running
        self.producing = True       # the builder may still add chains (and builds)
        self.jobs = max(1, jobs)
        self.slots = max(self.jobs, shared_jobs)
        self.kind = kind
        self.running: dict[int, str] = {}   # id(chain) -> kind

    def put(self, chain: list[Cell]) -> None:
        with self.cond:
            self.chains.append(chain)
            self.pending += 1
            self.cond.notify_all()

    def _may_start(self, chain: list[Cell]) -> bool:
        return self._may_start_kind(self.kind(chain))

    def _may_start_kind(self, kind: str) -> bool:
        kinds = list(self.running.values())
        if kind == QUIET:
            return not kinds and not self.producing
        if QUIET in kinds or len(kinds) >= self.slots:
            return False
        return kind == LIGHT or kinds.count(HEAVY) < self.jobs

    def get(self) -> list[Cell] | None:
        with self.cond:
            while True:
                if not self.chains and not self.producing and self.pending == 0:
                    return None
                ready = [c for c in self.chains if self._may_start(c)]
                if ready:
                    pick = max(ready, key=lambda c: (self.kind(c) == HEAVY, chain_seconds(c)))
                    self.chains.remove(pick)
                    self.running[id(pick)] = self.kind(pick)
                    return pick
                self.cond.wait(0.5)

    def release(self, chain: list[Cell]) -> None:
        """The chain's VM is over: it holds no slot while its cells are
        judged; each after-run check VM takes a light slot of its own
        (`light_slot`), so the checks of several chains run side by side
        instead of one chain's checks holding a slot in turn."""
        with self.cond:
            if self.running.pop(id(chain), None) is not None:
                self.cond.notify_all()

    @contextmanager
    def light_slot(self):
        """Hold a light slot for one VM that is not a chain (a power-cut
        check VM): it waits like a light chain would."""
        token = object()
        with self.cond:
            while not self._may_start_kind(LIGHT):
                self.cond.wait(0.5)
            self.running[id(token)] = LIGHT
        try:
            yield
        finally:
            with self.cond:
                self.running.pop(id(token), None)
                self.cond.notify_all()

    def done_one(self, chain: list[Cell]) -> None:
        with self.cond:
            self.pending -= 1
            self.running.pop(id(chain), None)
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.producing = False
            self.cond.notify_all()
