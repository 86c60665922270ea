"""Generated cases: the alphabet, compiling a case into guest steps, and the
model of what a file must hold at a cut (no VM)."""
import pytest

from harness import alphabet, cases, generate
from harness.cases import ABSENT, ZERO, Timeline
from harness.errors import HarnessError

A = alphabet.load()
BASE = dict(fs="btrfs", mount="nodatasum", prior="committed", meta="none", meta2="none",
            write="inside", size="64k", durability="o_dsync", engine="uring",
            completion="worker", between="nothing", disk="nocache")


def program(**changes):
    return cases.compile_case(A, cases.Case.of(A, dict(BASE, **changes)), 5)


def timeline(p, acked=(True, True), step_ok=True):
    """Steps one after the other, 10 apart; the measured writes after them."""
    steps, t = {}, 100
    m = next(s.seq for s in p.steps if s.kind == "measure")
    writes = {}
    for s in p.steps:
        if s.kind == "measure":
            start = t
            for i, ok in enumerate(acked):
                writes[i] = (t + 1, t + 5 if ok else None, p.measure.length if ok else -5)
                t += 10
            steps[s.seq] = (start, t, 0)
        else:
            steps[s.seq] = (t, t + 5, 0 if step_ok else -1)
        t += 10
    return Timeline(steps, writes), m


def allowed_at(p, tl, t, unit):
    vs, _ = cases.versions(p, tl)
    for e in cases.expectations(vs, p.names, t):
        if e.first <= unit < e.first + e.count:
            return set(e.allowed)
    return None


def test_every_value_of_the_alphabet_compiles():
    for d in A.dims:
        for v in d.values:
            row = dict(BASE, **{d.name: v.name})
            if A.allowed(row):
                p = cases.compile_case(A, cases.Case.of(A, row), 1)
                assert p.guest_text(0, 1024).endswith("end\n")


def test_an_acknowledged_o_dsync_write_is_required_from_its_ack_on():
    p = program()
    tl, m = timeline(p)
    ack0 = tl.writes[0][1]
    seed0 = f"{p.measure.seed:016x}"
    prior_seed = next(s.args[3] for s in p.steps if s.kind == "write")
    # before the ack: the committed data or the new write
    assert allowed_at(p, tl, ack0, 0) == {prior_seed, seed0}
    # right after it: only the new write
    assert allowed_at(p, tl, ack0 + 1, 0) == {seed0}


def test_a_plain_direct_write_without_sync_promises_nothing():
    p = program(durability="fdatasync")
    # fdatasync is its promise: with it acknowledged, the data is required
    tl, _ = timeline(p)
    assert allowed_at(p, tl, tl.writes[0][1] + 1, 0) == {f"{p.measure.seed:016x}"}


def test_uncommitted_data_may_be_gone():
    p = program(prior="uncommitted")
    tl, m = timeline(p)
    start = tl.steps[m][0]
    seed = next(s.args[3] for s in p.steps if s.kind == "write")
    assert allowed_at(p, tl, start, 0) == {ABSENT, seed}


def test_a_write_past_eof_requires_the_hole_before_it():
    p = program(write="past-eof-gap", durability="o_dsync")
    tl, _ = timeline(p)
    hole_unit = (1 << 20) // 512            # the old EOF
    assert allowed_at(p, tl, tl.writes[0][1] + 1, hole_unit) == {ZERO}


def test_a_write_that_failed_is_not_required():
    p = program()
    tl, _ = timeline(p, acked=(False, True))
    seed0 = f"{p.measure.seed:016x}"
    prior_seed = next(s.args[3] for s in p.steps if s.kind == "write")
    assert allowed_at(p, tl, 10_000, 0) == {prior_seed, seed0}


def test_a_renamed_target_is_looked_for_under_both_names():
    p = program(meta="rename")
    assert p.names == ("A", "A2")
    assert p.measure.file == "A2"
    tl, _ = timeline(p)
    vs, _ = cases.versions(p, tl)
    e = cases.expectations(vs, p.names, 10_000)[0]
    assert e.line().startswith("expect /mnt/A|/mnt/A2 ")


def test_a_flag_argument_is_not_taken_for_the_renamed_file():
    p = program(meta="rename", meta2="chattr")
    chattr = next(s for s in p.steps if s.kind == "chattr")
    assert chattr.args == ("A2", "A")


def test_meta2_gets_helper_files_of_its_own():
    p = program(meta="create", meta2="create")
    assert [s.args[0] for s in p.steps if s.kind == "create" and s.phase == "meta"] == ["C", "Cb"]


def test_reflink_copies_the_source_versions():
    p = program(prior="reflinked", fs="xfs", mount="xfs-default")
    tl, m = timeline(p)
    b_seed = next(s.args[3] for s in p.steps if s.kind == "write")
    assert allowed_at(p, tl, tl.steps[m][0], 0) == {b_seed}


def test_evaluate():
    assert cases.evaluate("max(eof-len/2,0)", eof=1 << 20, len=65536) == (1 << 20) - 32768
    assert cases.evaluate("4k+512") == 4608
    assert cases.evaluate("eof+64k", eof=0) == 65536
    with pytest.raises(HarnessError):
        cases.evaluate("__import__('os')")


def test_a_constraint_keeps_a_value_away():
    row = dict(BASE, fs="xfs", mount="xfs-default", prior="committed-nocow")
    assert not A.allowed(row)
    assert A.allowed(dict(row, prior="committed"))


def test_the_covering_array_honours_the_constraints_and_every_pair():
    small = A.restrict({"prior": ["new", "committed", "committed-nocow"],
                        "meta": ["none", "rename"], "meta2": ["none"],
                        "engine": ["pwrite", "uring"], "between": ["nothing"],
                        "durability": ["o_dsync", "rwf_dsync"],
                        "mount": ["nodatasum", "xfs-default", "ext4-default"]})
    got = generate.covering(small, seed=3)
    assert all(small.allowed(c.as_dict()) for c in got)
    cov = generate.coverage(small, got)
    assert cov["pairs"] == cov["pairs_all"]


def test_shards_split_the_plan():
    got = generate.covering(A.restrict({"prior": ["new", "committed"]}), seed=1, path_strength=2)[:30]
    parts = [generate.shard(got, i, 3) for i in (1, 2, 3)]
    assert sorted(sum(parts, []), key=got.index) == got
    with pytest.raises(HarnessError):
        generate.shard(got, 4, 3)


def test_a_case_key_round_trips():
    c = cases.Case.of(A, BASE)
    assert cases.Case.parse(A, c.key) == c


def test_meta2_reaches_the_prior_states_helper_file():
    p = program(prior="reflinked-uncommitted-nocow", meta="none", meta2="unlink-source")
    assert [s.args for s in p.steps if s.kind == "unlink"] == [("B",)]


def test_no_case_of_the_plan_has_steps_that_cannot_work():
    """Two rows that create the same helper file, or unlink one twice, make
    an INFRA case in the guest: caught here, for every pair the plan covers."""
    got = generate.covering(A, seed=0, path_strength=2)
    bad = {}
    for i, c in enumerate(got):
        problems = cases.step_problems(cases.compile_case(A, c, i))
        if problems:
            bad[c.key] = problems
    assert not bad, list(bad.items())[:3]


def test_step_problems_sees_a_file_created_twice():
    p = program(meta="create", meta2="create")
    assert not cases.step_problems(p)
    bad = cases.Program(**{**p.__dict__, "steps": p.steps + p.steps[:1]})
    assert cases.step_problems(bad)
