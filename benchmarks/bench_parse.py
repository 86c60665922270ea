#!/usr/bin/env python3
"""Report-parser throughput: MB of console log per second on one core.

Builds a ~64 MB log from the boot/console noise of a real harness run (or a
synthetic stand-in) with a real lockdep + hung-task report every ~2 MB, then
times kernel_reports.parse() over it.  Prints the median of 5 runs: wall clock
(the figure held to the goal) and this process's CPU time (what the parser
costs when other jobs share the cores: on a loaded machine the wall figure
drops, the CPU one much less)."""
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from harness import kernel_reports as kr  # noqa: E402

FIX = REPO / "tests" / "fixtures" / "real"


def corpus(target_mb: int = 64) -> str:
    logs = sorted(FIX.glob("*.console.log"))
    noise = "".join(f"[{i:5d}.{i % 999999:06d}][    T1] btrfs: some ordinary console line {i}\n"
                    for i in range(20000))
    report = ""
    for p in logs:
        text = kr.read_log(p)
        if "recursive locking" in text:
            report = text
            break
    if not report:
        report = (REPO / "tests" / "test_kernel_reports.py").read_text()[:4000]
    chunk = noise[: 2 * 1024 * 1024] + report
    reps = max(1, target_mb * 1024 * 1024 // len(chunk))
    return chunk * reps


def main() -> None:
    text = corpus()
    mb = len(text.encode()) / 1e6
    times, cpu = [], []
    for _ in range(5):
        t0, c0 = time.perf_counter(), time.process_time()
        found = kr.parse(text)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    med = statistics.median(times)
    print(f"parse: {mb:.1f} MB log, {len(kr.bugs(found))} distinct bug reports "
          f"(x{sum(f.count for f in kr.bugs(found))}), median {med:.2f} s over 5 runs "
          f"-> {mb / med:.0f} MB/s (goal >= 50 MB/s; CPU time: "
          f"{mb / statistics.median(cpu):.0f} MB/s)")


if __name__ == "__main__":
    main()
