"""Command line: a thin layer over the pipeline modules.

  harness fetch                      get the default kernel source
  harness build [--variant V]...     build variants (cached)
  harness run   [--variant V]... [--workload W]...   build, boot, judge
  harness parse-log FILE [--json]    name the kernel reports in a log
  harness explore [--line L] [--variant V]... [--budget MIN]   generated cases
  harness explore-merge DIR... --out DIR       join an explorer's shards
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from harness import build as buildmod
from harness import host as hostmod
from harness import kcidb, kernel_reports, proc, report, vm
from harness import lines as linesmod
from harness import matrix as matrixmod
from harness import patches as patchmod
from harness import source as sourcemod
from harness import workload as workloadmod
from harness.errors import HarnessError


DEFAULT_BUDGET = 30.0          # minutes of `harness explore` (make explore's too)


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- arguments

def _source_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("kernel source (default: the line's Debian linux-source)")
    g.add_argument("--line", action="append", metavar="L",
                   help="kernel line(s): " + ", ".join(
                       f"{n} ({ln.description})" for n, ln in linesmod.all_lines().items())
                   + ", or all (default 5.10; make: LINE=)")
    g.add_argument("--source-version", metavar="V",
                   help="pin the Debian package version of the line's source")
    g.add_argument("--kernel-tree", metavar="PATH",
                   help="a local kernel tree, git or not (also: KERNEL_SRC)")
    g.add_argument("--git-url", metavar="URL", help="clone this repository (shallow)")
    g.add_argument("--git-ref", metavar="REF", help="tag or branch for --git-url")
    p.add_argument("--variant", action="append", metavar="V",
                   help="repeatable, default all of the line's: " + "; ".join(
                       f"{ln.name}: {', '.join(v.name for v in ln.variants)}"
                       for ln in linesmod.all_lines().values()))
    p.add_argument("--patch", action="append", default=[], metavar="FILE",
                   help="apply your own patch on top of the variant (repeatable)")
    p.add_argument("--config-fragment", action="append", default=[], metavar="FILE",
                   help="extra kconfig fragment merged after guest-config/kconfig/*")
    p.add_argument("-j", "--make-jobs", type=int, default=None, help="make -j (default: nproc)")


def _positive(name: str, low: int, high: int):
    def conv(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number, not {text!r}")
        if not low <= n <= high:
            raise argparse.ArgumentTypeError(f"{name} must be between {low} and {high}, "
                                             f"not {n}")
        return n
    return conv


def _split(values: list[str] | None) -> list[str] | None:
    """--variant a,b --variant c -> [a, b, c]; None when not given."""
    if not values:
        return None
    return [x for v in values for x in v.replace(",", " ").split() if x]


class _Parser(argparse.ArgumentParser):
    """Bad arguments: one line and exit 2, never a usage dump."""

    def error(self, message: str):
        self.exit(2, f"harness: {message} (see {self.prog} --help)\n")


def parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="harness", description=__doc__,
                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="download and prepare the kernel source")
    _source_args(f)
    b = sub.add_parser("build", help="build kernel variants (cached)")
    _source_args(b)
    r = sub.add_parser("run", aliases=["test-vm"], help="build, boot and run the matrix")
    _source_args(r)
    r.add_argument("--workload", action="append", metavar="W",
                   help="workload name or letter (" + ", ".join(
                       f"{w.letter} {w.name}" for w in workloadmod.all_workloads())
                   + "), or the path of a .fio job or an executable (repeatable; default all)")
    r.add_argument("--cell", action="append", metavar="V:W",
                   help="only this variant x workload cell (repeatable, comma lists; "
                        "instead of --variant/--workload: the cells, not their product)")
    r.add_argument("--cpus", type=_positive("--cpus", 1, vm.MAX_CPUS),
                   default=os.environ.get("HARNESS_CPUS", str(vm.DEFAULT_CPUS)),
                   help=f"CPUs of each guest (default {vm.DEFAULT_CPUS}; also CPUS=)")
    r.add_argument("--repeat", type=_positive("--repeat", 1, 1000), default=1,
                   help="run every cell N times; exit 0 only if every claim holds N/N")
    r.add_argument("--mount-options", metavar="OPTS",
                   help="btrfs mount options instead of the line's (e.g. nodatasum; "
                        "'defaults' for none)")
    r.add_argument("--jobs", type=_positive("--jobs", 1, 16),
                   default=os.environ.get("HARNESS_JOBS", "1"),
                   help="VMs run at once (default 1; also HARNESS_JOBS=)")
    r.add_argument("--shared-jobs", type=_positive("--shared-jobs", 1, 16),
                   default=os.environ.get("HARNESS_SHARED_JOBS", "3"),
                   help="VMs run at once in all: light ones (a deterministic bug, a "
                        "workload that mostly waits) beside the heavy ones, "
                        "default 3; 1: never share the host")
    r.add_argument("--results", metavar="DIR", help="parent folder for results (default ./results)")
    r.add_argument("--keep-images", action="store_true", help="keep every disk image")
    r.add_argument("--runner", choices=sorted(vm.RUNNERS), default="qemu",
                   help="boot with QEMU directly (default) or with virtme-ng (vng)")
    g = r.add_argument_group("remote KVM host (VMs run there over SSH)")
    g.add_argument("--remote", metavar="USER@HOST[:PORT]", help="run the VMs on this host")
    g.add_argument("--remote-key", metavar="FILE", help="private key for --remote")
    g.add_argument("--known-hosts", metavar="FILE",
                   help="known_hosts to check the host key against (default: the system's)")
    g.add_argument("--accept-new-host-key", action="store_true",
                   help="trust (and record) an unknown host key")
    bi = sub.add_parser("bisect", help="find the commit that broke (or fixed) a workload")
    bi.add_argument("--kernel-tree", metavar="PATH", default=os.environ.get("KERNEL_SRC", "."),
                    help="the kernel git tree (default: KERNEL_SRC or .)")
    bi.add_argument("--good", required=True, help="a commit without the bug")
    bi.add_argument("--bad", required=True, help="a commit with the bug (older than --good: "
                    "find the fix)")
    bi.add_argument("--workload", default="extending", help="workload (default: extending)")
    bi.add_argument("--runs", type=int, default=1, help="runs per step (default 1)")
    bi.add_argument("--min-bad", type=int, default=None,
                    help="a step is bad when at least this many runs show the bug (default: 1)")
    bi.add_argument("--title", help="regex of the bug's title (default: the title seen at --bad)")
    bi.add_argument("--jobs", type=_positive("--jobs", 1, 16),
                    default=os.environ.get("HARNESS_JOBS", "2"))
    bi.add_argument("--results", metavar="DIR")
    bi.add_argument("--config-fragment", action="append", default=[], metavar="FILE")
    bi.add_argument("--reset", action="store_true", help="git bisect reset at the end")
    bi.add_argument("--cpus", type=_positive("--cpus", 1, vm.MAX_CPUS),
                    default=vm.DEFAULT_CPUS)
    rp = sub.add_parser("replay", help="rerun one cell of a results folder exactly")
    rp.add_argument("cell_dir", help="a cell's folder (RUN/LINE-VARIANT-WORKLOAD-N)")
    rp.add_argument("--results", metavar="DIR")
    rp.add_argument("--repeat", type=_positive("--repeat", 1, 1000), default=1)
    st = sub.add_parser("bisect-step", help=argparse.SUPPRESS)
    st.add_argument("state")
    cm = sub.add_parser("compare", help="what changed between two runs (exit 1: regression)")
    cm.add_argument("run_a", help="results folder (or result.json) of the earlier run")
    cm.add_argument("run_b", help="results folder (or result.json) of the later run")
    cm.add_argument("--json", action="store_true")
    kc = sub.add_parser("kcidb", help="write kcidb.json (KCIDB v5) for a results folder")
    kc.add_argument("run", help="results folder")
    kc.add_argument("--log-url", help="base URL where the folder's logs will be published")
    pl = sub.add_parser("parse-log", help="list the kernel reports in a console log")
    pl.add_argument("log", help="console log file ('-' for stdin)")
    pl.add_argument("--json", action="store_true", help="JSON list of findings")
    pl.add_argument("--all", action="store_true", help="include informational findings")
    pl.add_argument("--vmlinux", metavar="PATH",
                    help="resolve frames to file:line with this vmlinux (needs debug info)")
    pl.add_argument("--modules", metavar="DIR", help="where the module .ko files are")
    pl.add_argument("--kernel-tree", metavar="PATH",
                    help="source tree of the vmlinux (for scripts/decode_stacktrace.sh)")
    x = sub.add_parser("explore", help="generated O_DSYNC direct-write cases, judged by "
                       "the power-cut, fsck and kernel-report oracles")
    _source_args(x)
    x.add_argument("--fs", action="append", metavar="FS",
                   help="file systems (comma lists; default btrfs; xfs and ext4 build the "
                        "line's kernels with guest-config/kconfig/optional/peers.config)")
    x.add_argument("--disk", action="append", metavar="KIND",
                   help="disk kinds (default all of harness/disks/)")
    x.add_argument("--only", action="append", default=[], metavar="DIM=V[,V]",
                   help="cut a dimension of the alphabet to these values (repeatable)")
    x.add_argument("--seed", type=int, default=0, help="the plan's seed (default 0)")
    x.add_argument("--budget", type=float, metavar="MINUTES", default=DEFAULT_BUDGET,
                   help=f"stop starting cases after this long, shared by the kernels, a fifth "
                        f"of it for shrinking (default {DEFAULT_BUDGET:g}; 0: the whole plan)")
    x.add_argument("--cases", type=_positive("--cases", 1, 10 ** 6), metavar="N",
                   help="at most N cases of the plan (after sharding)")
    x.add_argument("--shard", metavar="I/N", default="1/1",
                   help="run shard I of N of the plan (every N-th case; CI's matrix)")
    x.add_argument("--strength", type=_positive("--strength", 2, 3), default=3,
                   help="3 (default): every triple of the path dimensions' values; 2: pairs")
    x.add_argument("--random", type=_positive("--random", 0, 10 ** 6), default=0,
                   help="random cases after the covering array and the sequences")
    x.add_argument("--batch", type=_positive("--batch", 1, 64), default=12,
                   help="cases a VM (default 12)")
    x.add_argument("--jobs", type=_positive("--jobs", 1, 8), default=2,
                   help="batches at once (default 2: one write VM beside one check VM)")
    x.add_argument("--cpus", type=_positive("--cpus", 1, vm.MAX_CPUS), default=1,
                   help="CPUs of the write VMs (default 1)")
    x.add_argument("--no-shrink", action="store_true", help="group the failures, do not shrink")
    x.add_argument("--keep", action="store_true", help="keep every write log")
    x.add_argument("--results", metavar="DIR", help="parent folder for results")
    xm = sub.add_parser("explore-merge", help="join explorer shards' results")
    xm.add_argument("dirs", nargs="+", metavar="DIR")
    xm.add_argument("--out", required=True, metavar="DIR")
    return ap


# ----------------------------------------------------------------- commands

def _sources(args) -> list[sourcemod.Source]:
    names = _split(args.line)
    selected = linesmod.select(names)
    if args.kernel_tree or os.environ.get("KERNEL_SRC") or args.git_url:
        if names and len(selected) > 1:
            raise HarnessError("--kernel-tree/--git-url is one tree: give at most one --line")
        return [sourcemod.resolve(args.kernel_tree, args.git_url, args.git_ref,
                                  selected[0] if names else None, progress=say)]
    if args.source_version and len(selected) > 1:
        raise HarnessError("--source-version pins one line's source: give one --line")
    return [sourcemod.resolve(line=ln, pin=args.source_version, progress=say)
            for ln in selected]


def _variants(args) -> list[sourcemod.Variant]:
    extra = tuple(patchmod.user_patch(p) for p in args.patch)
    names = _split(args.variant)
    _check_variant_names(args, names)
    out = []
    sources = _sources(args)
    for src in sources:
        have = [v.name for v in src.line.variants] if src.line and \
            sourcemod.has_variants(src) else ["tree"]
        want = names if len(sources) == 1 or not names else [n for n in names if n in have]
        if want == []:
            continue
        out += sourcemod.variants_for(src, want, extra)
    if not out:
        raise HarnessError(f"no selected line has variant(s) {', '.join(names or [])}")
    return out


def _check_variant_names(args, names: list[str] | None) -> None:
    """A variant no selected line has is refused before any source is
    downloaded (a fresh machine would fetch a whole kernel first)."""
    if not names or args.kernel_tree or os.environ.get("KERNEL_SRC") or args.git_url:
        return
    selected = linesmod.select(_split(args.line))
    known = {v.name for ln in selected for v in ln.variants}
    bad = [n for n in names if n not in known]
    if bad and len(selected) == 1:
        selected[0].variant(bad[0])             # "line L has no variant ...; choose from"
    if bad:
        raise HarnessError(f"no selected line has variant {bad[0]!r}; the lines' variants: "
                           + "; ".join(f"{ln.name}: {', '.join(v.name for v in ln.variants)}"
                                       for ln in selected))


def _fragments(args) -> list[Path]:
    from harness import kconfig
    extra = [Path(p).expanduser().resolve() for p in args.config_fragment]
    for p in extra:
        if not p.is_file():
            raise HarnessError(f"--config-fragment {p}: no such file")
    return kconfig.default_fragments() + extra


def cmd_fetch(args) -> int:
    for src in _sources(args):
        broken = "".join(f"\n  variant {b.variant}: {b.why}" for b in src.broken)
        print(f"{src.line.name if src.line else 'tree'}: {src.label}: {src.path}{broken}")
    return 0


def cmd_build(args) -> int:
    frags = _fragments(args)
    for v in _variants(args):
        b = buildmod.build(v, frags, args.make_jobs, progress=say)
        state = "cached" if b.cached else "built"
        print(f"{v.key}: {state} in {b.seconds:.1f} s  commit {b.commit[:12]}  "
              f"config {b.config_hash}  {b.bzimage}")
    return 0


def _cells(args) -> frozenset[tuple[str, str]]:
    """--cell V:W,... -> {(variant, workload name)}; it sets --variant and
    --workload to the cells' own (one clear error when mixed with them)."""
    if not args.cell:
        return frozenset()
    if args.variant or args.workload:
        raise HarnessError("give either --cell or --variant/--workload")
    pairs = []
    for c in _split(args.cell):
        v, colon, w = c.partition(":")
        if not colon or not v or not w:
            raise HarnessError(f"--cell {c!r}: expected VARIANT:WORKLOAD (e.g. rebreak:extending)")
        pairs.append((v, w))
    by = {w: workloadmod.resolve([w])[0].name for _, w in pairs}
    args.variant = list(dict.fromkeys(v for v, _ in pairs))
    args.workload = list(dict.fromkeys(by[w] for _, w in pairs))
    return frozenset((v, by[w]) for v, w in pairs)


def cmd_run(args) -> int:
    frags = _fragments(args)
    cells = _cells(args)
    variants = _variants(args)
    workloads = workloadmod.resolve(_split(args.workload))
    if args.runner != "qemu" and args.remote:
        raise HarnessError(f"--runner {args.runner} runs here only; leave out --remote")
    for line in {v.source.line for v in variants if v.source.line is not None}:
        vm.check_runner(args.runner, line.root, f"line {line.name}")   # before any build
    outdir = report.new_results_dir(Path(args.results).resolve() if args.results else None)
    say(f"results: {outdir}")
    host = hostmod.LOCAL
    if args.remote:
        from harness import remote
        host = remote.RemoteHost(remote.Target.parse(args.remote), args.remote_key,
                                 args.known_hosts, args.accept_new_host_key)
        try:
            host.prepare()
        except BaseException:
            host.close()
            raise
        say(f"remote host {args.remote}: {host.tmp}")
    settings = matrixmod.Settings(outdir, cpus=args.cpus, jobs=args.jobs, repeat=args.repeat,
                                  host=host, keep_images=args.keep_images, fragments=frags,
                                  make_jobs=args.make_jobs, progress=say,
                                  mount_options=args.mount_options,
                                  explicit=tuple(w.name for w in workloads) if args.workload
                                  else (), runner=args.runner, shared_jobs=args.shared_jobs,
                                  cells=cells)
    try:
        outcome = matrixmod.run(variants, workloads, settings)
    finally:
        host.close()
    host_label = host.label + ("" if args.runner == "qemu" else f" ({args.runner})")
    return report.finish_run(outdir, outcome, variants, host_label, args.cpus,
                             args.repeat)


def cmd_replay(args) -> int:
    from harness import replay
    return replay.replay(Path(args.cell_dir), args.results, args.repeat, progress=say)


def cmd_parse_log(args) -> int:
    try:
        text = (sys.stdin.buffer.read().decode("utf-8", "replace") if args.log == "-"
                else kernel_reports.read_log(args.log))
    except OSError as e:
        raise HarnessError(f"cannot read {args.log}: {e.strerror or e}")
    try:
        findings = kernel_reports.parse(text)
    except Exception as e:          # a bug of the parser, not of the log
        raise HarnessError(f"parse-log: the report parser failed on {args.log} "
                           f"({type(e).__name__}: {e}); this is a harness bug", 1) from None
    if not args.all:
        findings = kernel_reports.bugs(findings)
    if args.vmlinux:
        from harness import symbolize
        script = symbolize.find_script(Path(args.kernel_tree) if args.kernel_tree else None)
        for f in findings:
            f.report = symbolize.decode(f.report, Path(args.vmlinux), script,
                                        Path(args.modules) if args.modules else None)
    if args.json:
        print(json.dumps([f.to_json() for f in findings], indent=2))
        return 0
    if not findings:
        print("no kernel reports found")
    for f in findings:
        flag = (" [corrupted" + (f": {f.reason}]" if f.reason else "]") if f.corrupted
                else f" [{f.reason}]" if f.reason else "")
        count = f" (x{f.count})" if f.count > 1 else ""
        print(f"{f.title}{count}{flag}\n    kind {f.kind}, frame {f.frame or '?'}, "
              f"lines {f.first_line}-{f.last_line}")
        if args.vmlinux:
            print("\n".join("    " + ln for ln in f.report.splitlines()))
    return 0


def cmd_bisect(args) -> int:
    from harness import bisect
    return bisect.bisect(args.kernel_tree, args.good, args.bad, args.workload, args.runs,
                         args.min_bad or 1, args.title,
                         Path(args.results).resolve() if args.results else None, args.jobs,
                         [str(Path(f).resolve()) for f in args.config_fragment], args.reset,
                         args.cpus, progress=say)


def cmd_bisect_step(args) -> int:
    from harness import bisect
    return bisect.cmd_step(args.state)


def cmd_compare(args) -> int:
    from harness import compare
    return compare.cmd(args.run_a, args.run_b, args.json)


def cmd_kcidb(args) -> int:
    run = Path(args.run)
    if not (run / "result.json").is_file():
        raise HarnessError(f"{run}: no result.json (give a results folder)")
    print(kcidb.export_dir(run, args.log_url))
    return 0


def _only(args, fs: list[str], disks: list[str] | None) -> dict[str, list[str]]:
    only: dict[str, list[str]] = {"fs": fs}
    if disks:
        only["disk"] = disks
    for spec in args.only:
        dim, eq, vals = spec.partition("=")
        if not eq or not vals:
            raise HarnessError(f"--only {spec!r}: expected DIMENSION=VALUE[,VALUE]")
        only[dim] = [v for v in vals.split(",") if v]
    return only


def _shard(text: str) -> tuple[int, int]:
    i, slash, n = text.partition("/")
    if not slash or not i.isdigit() or not n.isdigit() or not 1 <= int(i) <= int(n):
        raise HarnessError(f"--shard {text!r}: expected I/N with 1 <= I <= N")
    return int(i), int(n)


def cmd_explore(args) -> int:
    from harness import alphabet as alphabetmod
    from harness import exploration, explore
    from harness import kconfig
    fs = _split(args.fs) or ["btrfs"]
    alpha = alphabetmod.load()
    only = _only(args, fs, _split(args.disk))
    try:
        for dim, vals in only.items():
            alpha.dim(dim)
        alpha = alpha.restrict(only)
    except HarnessError as e:
        raise HarnessError(f"explore: {e}") from None
    shard = _shard(args.shard)
    frags = _fragments(args)
    if set(fs) - {"btrfs"}:
        frags.append(kconfig.default_fragments()[0].parent / "optional" / "peers.config")
    outdir = report.new_results_dir(Path(args.results).resolve() if args.results else None,
                                    prefix="explore-")
    say(f"results: {outdir}")
    kernels = []
    for v in _variants(args):
        b = buildmod.build(v, frags, args.make_jobs, progress=say)
        accel = vm.choose_accel(b.bzimage, outdir, root_kind=b.root)
        kernels.append(explore.Kernel(v.line or "tree", v.label, b.bzimage, b.root, accel,
                                      b.commit))
    opts = exploration.Options(seed=args.seed, budget_s=args.budget * 60 if args.budget > 0 else None,
                               shard=shard, batch=args.batch, jobs=args.jobs, cpus=args.cpus,
                               strength=args.strength, max_cases=args.cases, random=args.random,
                               shrink=not args.no_shrink, keep=args.keep)
    session = exploration.Session(alpha, opts, outdir, progress=say)
    summary = exploration.explore_kernels(session, kernels)
    print(exploration.table(summary))
    print(f"results: {outdir}")
    counts = [c for k in summary["by_kernel"].values() for c in (k,)]
    if any(c.get("FAIL") for c in counts):
        return 1
    if not summary["outcomes"] or all(c.get("PASS", 0) == 0 for c in counts):
        return 125
    return 0


def cmd_explore_merge(args) -> int:
    from harness import alphabet as alphabetmod
    from harness import exploration
    summary = exploration.merge([Path(d) for d in args.dirs], Path(args.out),
                                alphabetmod.load())
    print(exploration.table(summary))
    return 1 if summary["findings"] else 0


COMMANDS = {"explore": cmd_explore, "explore-merge": cmd_explore_merge, "fetch": cmd_fetch, "build": cmd_build, "run": cmd_run, "test-vm": cmd_run,
            "parse-log": cmd_parse_log, "bisect": cmd_bisect, "bisect-step": cmd_bisect_step,
            "compare": cmd_compare, "kcidb": cmd_kcidb, "replay": cmd_replay}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    proc.install_signal_handlers()
    try:
        return COMMANDS[args.cmd](args)
    except HarnessError as e:
        say(f"harness: {e}")
        return e.exit_code
    except KeyboardInterrupt:
        proc.kill_all()
        say("harness: interrupted; VMs stopped")
        return 130
    finally:
        proc.kill_all()


if __name__ == "__main__":
    sys.exit(main())
