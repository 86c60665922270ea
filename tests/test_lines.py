import re
import tomllib

import pytest

from harness import lines, workload
from harness.errors import HarnessError
from harness.lines import FAIL, PASS, Bug, Claim
from harness.verdict import ERROR, INFRA, UNPROVEN

P1 = "5.10/0001-btrfs-dio-iomap-DSYNC-workaround.patch"
HEAD = '''name = "9.0"
description = "test line"
version = '^9\\.0\\.'
[source]
package = "linux-source-9.0"
suite = "sid"
[bugs.dl]
what = "a deadlock"
titles = ['^possible deadlock in a$', '^INFO: task hung in b$']
'''
SHIPPED = '[[variants]]\nname = "fixed"\nshows = "as shipped"\n'
BASE = f'[[variants]]\nname = "base"\nshows = "reverted"\nrevert = ["{P1}"]\n'


# ------------------------------------------------------------ the real tables

def test_real_tables_load_with_the_seed_line():
    assert "5.10" in lines.all_lines()


@pytest.mark.parametrize("name", list(lines.all_lines()))
def test_every_real_line_is_consistent(name):
    line = lines.get(name)
    assert sum(v.shipped for v in line.variants) == 1
    assert line.shipped.name in {v.name for v in line.variants}
    known = set(workload.names())
    for v in line.variants:
        for p in (*v.revert, *v.apply):
            assert p.is_file(), p
        assert set(v.fail) <= known, (v.name, set(v.fail) - known)
        assert set(v.why) <= known, (v.name, set(v.why) - known)
        for bug in v.fail.values():
            assert bug is line.bugs[bug.id]
    raw = tomllib.loads(line.file.read_text())
    for bug in line.bugs.values():
        assert isinstance(raw["bugs"][bug.id]["titles"], list) and bug.titles
        for rx in bug.titles:
            re.compile(rx)


@pytest.mark.parametrize("name", ["6.1", "6.12", "7.2"])
def test_the_race_control_names_every_symptom_seen(name):
    """cd9253c23aed reverted: fsync runs without the inode lock, and the
    first of its own lock checks to notice names the report (every title
    here was seen in a run of this harness)."""
    c = lines.get(name).claim("revert-race", "fsync-race")
    for title in ("BTRFS: assertion failed in btrfs_get_ordered_extents_for_logging",
                  "WARNING in btrfs_get_ordered_extents_for_logging",
                  "BTRFS: assertion failed in btrfs_release_log_ctx_extents"):
        assert c.matches(FAIL, title), (name, title)
    assert not c.matches(FAIL, "BTRFS: assertion failed in btrfs_sync_file")


def test_seed_line_claims():
    line = lines.get("5.10")
    c = line.claim("base", "extending")
    assert c.verdict == FAIL and c.bug.id == "seed-deadlock" and str(c) == "FAIL seed-deadlock"
    assert c.bug.matches("possible deadlock in btrfs_sync_file")
    assert not c.bug.matches("possible deadlock in something_else")
    assert not c.bug.matches(None)
    for w in workload.names():
        assert line.claim("fixed", w) == Claim(PASS, None, line.variant("fixed").passes)
    other = line.claim("base", "my-own-job")
    assert other.verdict == PASS and other.bug is None and other.why
    assert line.claim("workaround", "unaligned").bug.id == "stub-leak"


def test_unknown_variant_names_the_choices():
    with pytest.raises(HarnessError, match="base, workaround"):
        lines.get("5.10").variant("nope")


# ------------------------------------------------------------ parse

def test_parse_a_minimal_line():
    line = lines.parse(HEAD + SHIPPED + BASE + '[variants.fail]\nx = "dl"\n')
    assert line.name == "9.0" and line.shipped.name == "fixed"
    assert line.variant("base").revert == (lines.PATCHES / P1,)
    assert line.source.version == "" and line.mount_options == ""
    c = line.claim("base", "x")
    assert c.verdict == FAIL and c.why == "a deadlock"     # the bug's text when no why


def test_a_variant_row_can_shorten_the_race_shapes():
    guest = '[guest]\nrace_seconds = { fsync-race = 15, default = 3 }\n'
    line = lines.parse(HEAD + guest + SHIPPED + BASE + 'race_seconds = 2\n')
    assert line.race_for("fsync-race") == 15 and line.race_for("overwrite-race") == 3
    assert line.race_for("fsync-race", "fixed") == 15          # no override: the line's
    assert line.race_for("fsync-race", "base") == 2 == line.race_for("x", "base")
    real = lines.get("6.1")
    assert real.race_for("fsync-race", "shipped") == 15      # the PASS that must survive
    assert real.race_for("fsync-race", "revert-unlock") == 3


def test_a_line_can_add_kconfig_fragments_after_the_shared_ones(tmp_path):
    from harness import kconfig
    line = lines.parse(HEAD + '[build]\nfragments = ["initramfs-root.config"]\n' + SHIPPED)
    assert line.fragments == (lines.LINE_FRAGMENTS / "initramfs-root.config",)
    assert line.root == "9p"                    # a fragment alone does not change the root
    shared = kconfig.default_fragments()
    user = tmp_path / "mine.config"
    user.write_text("CONFIG_IPV6=y\n")
    # the line's after the shared ones, the user's last (a user can undo a line's)
    assert kconfig.for_line(shared + [user], line) == [*shared, *line.fragments, user]
    assert kconfig.config_hash(kconfig.for_line(shared, line)) != kconfig.config_hash(shared)


def test_a_lines_guest_root_brings_the_fragment_its_kernels_need():
    """root = "initramfs": the line's builds merge initramfs-root.config (no
    network stack, BLK_DEV_INITRD); 9p needs nothing beyond 10-base.config.
    5.10 and 6.1 stay on 9p (the vng runner's lines), 6.12 and 7.2 do not."""
    from harness import kconfig
    shared = kconfig.default_fragments()
    ram = lines.parse(HEAD + '[guest]\nroot = "initramfs"\n' + SHIPPED)
    assert ram.root == "initramfs"
    assert ram.fragments == (lines.LINE_FRAGMENTS / "initramfs-root.config",)
    assert kconfig.wanted(kconfig.for_line(shared, ram))["CONFIG_NET"] == "n"
    assert kconfig.wanted(kconfig.for_line(shared, ram))["CONFIG_BLK_DEV_INITRD"] == "y"
    assert [(n, lines.get(n).root) for n in ("5.10", "6.1", "6.12", "7.2")] == [
        ("5.10", "9p"), ("6.1", "9p"), ("6.12", "initramfs"), ("7.2", "initramfs")]
    assert kconfig.for_line(shared, lines.get("6.1")) == shared
    assert lines.get("7.2").fragments == lines.get("6.12").fragments == ram.fragments


@pytest.mark.parametrize("text, message", [
    (HEAD.replace('suite = "sid"\n', "") + SHIPPED, "missing key 'suite'"),
    (HEAD + '[[variants]]\nname = "fixed"\n', "missing key 'shows'"),
    (HEAD + SHIPPED + BASE + '[variants.fail]\nx = "nobug"\n', "unknown bug 'nobug'"),
    (HEAD + SHIPPED + SHIPPED.replace("fixed", "also"), "exactly one variant"),
    (HEAD + BASE, "exactly one variant"),
    (HEAD + SHIPPED + 'name = [', "not valid TOML"),
    (HEAD + SHIPPED + BASE.replace(P1, "5.10/nope.patch"), "nope.patch does not exist"),
    (HEAD.replace("'^INFO", "'(") + SHIPPED, "bad title regex"),
    (HEAD + '[build]\nfragments = ["nope.config"]\n' + SHIPPED,
     "guest-config/kconfig/lines/nope.config does not exist"),
    (HEAD + '[build]\nfragments = "initramfs-root.config"\n' + SHIPPED, "must be a list"),
    (HEAD + '[guest]\nroot = "nfs"\n' + SHIPPED,
     "guest.root must be one of 9p, initramfs, not 'nfs'"),
    (HEAD + 'deterministic = "yes"\n' + SHIPPED, "bugs.dl.deterministic must be true or false"),
    (HEAD + SHIPPED + BASE + '[variants.may]\nx = "nobug"\n', "unknown bug 'nobug'"),
    (HEAD + SHIPPED + BASE + '[variants.fail]\nx = "dl"\n[variants.may]\nx = "dl"\n',
     "x both under fail and may"),
])
def test_parse_errors_are_one_harness_error(text, message):
    with pytest.raises(HarnessError, match=re.escape(message)):
        lines.parse(text)


def test_a_bug_is_timing_dependent_unless_its_row_says_deterministic():
    line = lines.parse(HEAD + SHIPPED)
    assert line.bugs["dl"].deterministic is False
    line = lines.parse(HEAD + "deterministic = true\n" + SHIPPED)
    assert line.bugs["dl"].deterministic is True
    # the races and the delay-timed double unlock are not; the seed's deadlock is
    for name in ("6.1", "6.12", "7.2"):
        bugs = lines.get(name).bugs
        assert bugs["seed-deadlock"].deterministic
        assert not bugs["dio-fsync-race"].deterministic
        assert not bugs["dio-sync-double-unlock"].deterministic


def test_a_may_claim_holds_for_a_pass_or_its_bug():
    line = lines.parse(HEAD + SHIPPED + BASE + '[variants.may]\nrace = "dl"\n')
    c = line.claim("base", "race")
    assert c.verdict == lines.MAY and str(c) == "PASS or FAIL dl"
    assert c.matches(PASS, None) and c.matches(FAIL, "possible deadlock in a")
    assert not c.matches(FAIL, "WARNING in elsewhere") and not c.matches(ERROR, None)
    assert not c.matches(UNPROVEN, None)
    assert line.claim("base", "other").verdict == PASS
    # measured on 6.1 and 7.2: the overwrite race reaches e0391e92f9ab's exit
    for name in ("6.1", "7.2"):
        assert lines.get(name).claim("revert-unlock", "overwrite-race").verdict == lines.MAY


def test_claim_matches():
    bug = Bug("dl", "a deadlock", ("^possible deadlock in a$", "^INFO: task hung in b$"))
    fail = Claim(FAIL, bug)
    assert fail.matches(FAIL, "possible deadlock in a")
    assert fail.matches(FAIL, "INFO: task hung in b")
    assert not fail.matches(FAIL, "possible deadlock in c")
    assert not fail.matches(FAIL, None)
    assert not fail.matches(PASS, None)
    assert not fail.matches(ERROR, "possible deadlock in a")
    passes = Claim(PASS)
    assert passes.matches(PASS, None)
    for other in (FAIL, ERROR, INFRA, UNPROVEN):
        assert not passes.matches(other, None)
    assert Claim(FAIL).matches(FAIL, "anything")              # no bug named: any FAIL


# ------------------------------------------------------------ choosing lines

def test_select_get_and_for_version():
    seed = lines.get("5.10")
    assert lines.select(None) == [seed] and lines.select([]) == [seed]
    assert lines.select(["all"]) == list(lines.all_lines().values())
    assert lines.select(["5.10", "5.10"]) == [seed]
    with pytest.raises(HarnessError, match=r"unknown kernel line '9\.9'.*5\.10"):
        lines.get("9.9")
    assert lines.for_version("5.10.223") is seed
    assert lines.for_version("4.19.1") is None
    assert lines.for_version("5.100.1") is None


def test_a_bug_without_a_kernel_report_is_one_the_harness_finds_itself():
    """`kernel_report = false` (its cells share a VM: harness.plan) is for a
    bug whose every title is one of the harness's own findings (the
    power-cut check's, the evidence's), and every such bug says so."""
    import re
    from harness import durability
    own = [durability.judge({"lost": [f"{m}#0" for m in modes], "cuts_lost": [1],
                             "cut_points": 2, "cut_points_checked": 2, "acknowledged": 2})[1]
           for modes in (["libaio"], ["uring"], ["libaio", "uring"])]
    own += ["O_DSYNC direct write completed without its sync (async completion)",
            "O_DSYNC direct write completed without its sync (inline completion)"]
    from harness import cost
    own.append(cost.judge("@@harness cost mode=dsync writes=16 syncs=32 log_commits=32 flushes=64 "
                          "fua=0 write_ios=200\n@@harness cost mode=fdatasync writes=16 syncs=16 "
                          "log_commits=16 flushes=32 fua=0 write_ios=100\n").title)
    for name in lines.all_lines():
        for bug in lines.get(name).bugs.values():
            harness_only = all(any(re.search(rx, t) for t in own) for rx in bug.titles)
            assert bug.kernel_report == (not harness_only), (name, bug.id, bug.titles)
