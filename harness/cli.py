"""Command line: a thin layer over the pipeline modules.

  harness fetch                      get the default kernel source
  harness build [--variant V]...     build variants (cached)
  harness run   [--variant V]... [--workload W]...   build, boot, judge
  harness parse-log FILE [--json]    name the kernel reports in a log
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from harness import build as buildmod
from harness import cell, html_report, kcidb, kernel_reports, proc, report, vm
from harness import patches as patchmod
from harness import source as sourcemod
from harness import verdict as verdictmod
from harness import workload as workloadmod
from harness.errors import HarnessError, InfraError


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- arguments

def _source_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("kernel source (default: Debian bullseye linux-source-5.10)")
    g.add_argument("--kernel-tree", metavar="PATH",
                   help="a local kernel tree, git or not (also: KERNEL_SRC)")
    g.add_argument("--git-url", metavar="URL", help="clone this repository (shallow)")
    g.add_argument("--git-ref", metavar="REF", help="tag or branch for --git-url")
    p.add_argument("--variant", action="append", metavar="V",
                   help="repeatable, default all: " + "; ".join(
                       f"{k}: {v}" for k, v in sourcemod.VARIANT_HELP.items()))
    p.add_argument("--patch", action="append", default=[], metavar="FILE",
                   help="apply your own patch on top of the variant (repeatable)")
    p.add_argument("--config-fragment", action="append", default=[], metavar="FILE",
                   help="extra kconfig fragment merged after guest-config/kconfig/*")
    p.add_argument("-j", "--make-jobs", type=int, default=None, help="make -j (default: nproc)")


def _split(values: list[str] | None) -> list[str] | None:
    """--variant a,b --variant c -> [a, b, c]; None when not given."""
    if not values:
        return None
    return [x for v in values for x in v.replace(",", " ").split() if x]


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="harness", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="download and prepare the kernel source")
    _source_args(f)
    b = sub.add_parser("build", help="build kernel variants (cached)")
    _source_args(b)
    r = sub.add_parser("run", aliases=["test-vm"], help="build, boot and run the matrix")
    _source_args(r)
    r.add_argument("--workload", action="append", metavar="W",
                   help="workload name, letter a-g, or a .fio job file (repeatable; default: all)")
    r.add_argument("--jobs", type=int, default=int(os.environ.get("HARNESS_JOBS", "2")),
                   help="VMs run at once (default 2)")
    r.add_argument("--results", metavar="DIR", help="parent folder for results (default ./results)")
    r.add_argument("--keep-images", action="store_true", help="keep every disk image")
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
    bi.add_argument("--jobs", type=int, default=int(os.environ.get("HARNESS_JOBS", "2")))
    bi.add_argument("--results", metavar="DIR")
    bi.add_argument("--config-fragment", action="append", default=[], metavar="FILE")
    bi.add_argument("--reset", action="store_true", help="git bisect reset at the end")
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
    return ap


# ----------------------------------------------------------------- commands

def _variants(args) -> list[sourcemod.Variant]:
    extra = tuple(patchmod.user_patch(p) for p in args.patch)
    src = sourcemod.resolve(args.kernel_tree, args.git_url, args.git_ref, progress=say)
    return sourcemod.variants_for(src, _split(args.variant), extra)


def _fragments(args) -> list[Path]:
    from harness import kconfig
    extra = [Path(p).expanduser().resolve() for p in args.config_fragment]
    for p in extra:
        if not p.is_file():
            raise HarnessError(f"--config-fragment {p}: no such file")
    return kconfig.default_fragments() + extra


def cmd_fetch(args) -> int:
    src = sourcemod.resolve(args.kernel_tree, args.git_url, args.git_ref, progress=say)
    print(f"{src.label}: {src.path}")
    return 0


def cmd_build(args) -> int:
    frags = _fragments(args)
    for v in _variants(args):
        b = buildmod.build(v, frags, args.make_jobs, progress=say)
        state = "cached" if b.cached else "built"
        print(f"{b.variant}: {state} in {b.seconds:.1f} s  commit {b.commit[:12]}  "
              f"config {b.config_hash}  {b.bzimage}")
    return 0


def cmd_run(args) -> int:
    frags = _fragments(args)
    variants = _variants(args)
    workloads = workloadmod.resolve(_split(args.workload))
    if args.remote:
        if args.workload and any(w.name == "durability" for w in workloads):
            raise HarnessError("the durability workload needs its write log here; it cannot "
                               "run with --remote (leave it out with --workload)")
        workloads = [w for w in workloads if w.name != "durability"]
    outdir = report.new_results_dir(Path(args.results).resolve() if args.results else None)
    default_matrix = variants[0].name in sourcemod.DEFAULT_VARIANTS and not variants[0].extra
    say(f"results: {outdir}")
    t_start = time.monotonic()
    builds, build_failures = {}, {}
    for v in variants:
        try:
            builds[v.label] = buildmod.build(v, frags, args.make_jobs, progress=say)
            report.copy_build_log(builds[v.label], outdir)
        except InfraError as e:
            build_failures[v.label] = str(e)
            say(f"{v.label}: {e}")
    host = vm.LOCAL
    if args.remote:
        from harness import remote
        host = remote.RemoteHost(remote.Target.parse(args.remote), args.remote_key,
                                 args.known_hosts, args.accept_new_host_key)
        try:
            host.prepare()
            for b in builds.values():
                host.put_kernel(b.bzimage)      # SFTP once, before the VMs start
        except BaseException:
            host.close()
            raise
        say(f"remote host {args.remote}: {host.tmp}")
    try:
        return _run_matrix(args, variants, workloads, builds, build_failures, outdir,
                           default_matrix, host, t_start)
    finally:
        if host is not vm.LOCAL:
            host.close()


def _run_matrix(args, variants, workloads, builds, build_failures, outdir, default_matrix,
                host, t_start) -> int:
    verdicts = []
    accel = "none"
    if builds:
        first = next(iter(builds.values()))
        accel = vm.choose_accel(first.bzimage, outdir, progress=say, host=host)
    say(f"accelerator: {accel}; running {len(builds) * len(workloads)} VM(s), "
        f"{args.jobs} at a time")

    def one(v: sourcemod.Variant, w: workloadmod.Workload) -> verdictmod.Verdict:
        b = builds[v.label]
        r, judged, extra = cell.run(f"{v.label}-{w.name}", b.bzimage, w, outdir, accel, host,
                                    args.keep_images)
        verdict, title, frame, kind, text, detail = judged
        timings = {"boot": r.times.get("booted"), "workload_start": r.times.get("workload_start"),
                   "first_report": r.times.get("first_report"), "verdict": r.times.get("end"),
                   "guest_uptime_at_boot": r.times.get("guest_uptime_at_boot")}
        return verdictmod.Verdict(
            v.label, w.name, verdict, title, frame, kind, text, detail,
            verdictmod.expectation_for(v.name, w.name, default_matrix),
            {k: round(x, 3) for k, x in timings.items() if x is not None},
            r.console_log.name, r.findings, b.commit, b.config_hash, accel, extra)

    cells = [(v, w) for v in variants for w in workloads]
    for v, w in cells:
        if v.label in build_failures:
            verdicts.append(verdictmod.Verdict(
                v.label, w.name, verdictmod.INFRA, detail=build_failures[v.label],
                expected=verdictmod.expectation_for(v.name, w.name, default_matrix)))
    todo = [(v, w) for v, w in cells if v.label in builds]
    done = 0
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futs = {pool.submit(one, v, w): (v, w) for v, w in todo}
        try:
            for fut in as_completed(futs):
                v, w = futs[fut]
                done += 1
                try:
                    res = fut.result()
                except HarnessError as e:
                    res = verdictmod.Verdict(v.label, w.name, verdictmod.INFRA, detail=str(e),
                                             expected=verdictmod.expectation_for(
                                                 v.name, w.name, default_matrix))
                verdicts.append(res)
                say(f"[{done}/{len(todo)}] {res.variant}/{res.workload}: {res.verdict}"
                    f"{' ' + res.title if res.title else ''}"
                    f"{' (' + res.detail + ')' if res.verdict in ('ERROR', 'INFRA') else ''}")
        except BaseException:
            for f in futs:
                f.cancel()
            host.kill_all()         # running VMs see EOF and their threads end
            raise
    order = {(v.label, w.name): i for i, (v, w) in enumerate(cells)}
    verdicts.sort(key=lambda x: order.get((x.variant, x.workload), 0))
    meta = {"source": variants[0].source.label, "accelerator": accel,
            "vm_host": args.remote or "local",
            "qemu": vm.qemu_version(), "seconds": round(time.monotonic() - t_start, 1),
            "builds": [b.to_json() for b in builds.values()],
            "build_failures": build_failures}
    report.write_results(outdir, verdicts, meta)
    html_report.write(outdir)
    kcidb.export_dir(outdir)
    report.print_table(verdicts)
    code = verdictmod.exit_code(verdicts)
    summary = {0: "as expected", 1: "UNEXPECTED results", 125: "build/boot failure (bisect: skip)"}
    print(f"{summary.get(code, code)}; exit {code}")
    print(f"results: {outdir}")
    return code


def cmd_parse_log(args) -> int:
    try:
        text = (sys.stdin.buffer.read().decode("utf-8", "replace") if args.log == "-"
                else kernel_reports.read_log(args.log))
    except OSError as e:
        raise HarnessError(f"cannot read {args.log}: {e.strerror or e}")
    findings = kernel_reports.parse(text)
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
        flag = " [corrupted]" if f.corrupted else ""
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
                         progress=say)


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


COMMANDS = {"fetch": cmd_fetch, "build": cmd_build, "run": cmd_run, "test-vm": cmd_run,
            "parse-log": cmd_parse_log, "bisect": cmd_bisect, "bisect-step": cmd_bisect_step,
            "compare": cmd_compare, "kcidb": cmd_kcidb}


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
