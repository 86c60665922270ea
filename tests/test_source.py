import pytest

from harness import debian, source
from harness.errors import HarnessError


def test_mirror_from_deb822_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d/debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\nTypes: deb\nURIs: http://mirror.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n")
    assert debian.debian_mirror(tmp_path) == "http://mirror.example/debian"


def test_mirror_from_one_line_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb http://sec.example/debian-security bookworm-security main\n"
        "deb [arch=amd64] http://one.example/debian/ bookworm main contrib\n")
    assert debian.debian_mirror(tmp_path) == "http://one.example/debian"


def test_no_mirror_is_one_clear_error(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    with pytest.raises(HarnessError, match="no Debian archive found"):
        debian.debian_mirror(tmp_path)


def test_not_a_kernel_tree(tmp_path):
    with pytest.raises(HarnessError, match="is not a kernel tree"):
        source.local_tree(tmp_path)
    (tmp_path / "Makefile").write_text("all:\n\techo hi\n")
    with pytest.raises(HarnessError, match="is not a kernel tree"):
        source.local_tree(tmp_path)
    with pytest.raises(HarnessError, match="no such directory"):
        source.local_tree(tmp_path / "nope")


def test_variants_of_the_default_source_are_commits(default_source):
    vs = source.variants_for(default_source, None)
    assert [v.name for v in vs] == ["base", "workaround", "fixed", "nosync"]
    assert [v.key for v in vs] == ["5.10-base", "5.10-workaround", "5.10-fixed", "5.10-nosync"]
    ids = [source.commit_of(v) for v in vs]
    assert len(set(ids)) == 4 and all(len(i) == 40 for i in ids)
    # fixed is the tree Debian ships, byte for byte
    assert source.git(default_source.path, "rev-parse", "variant/fixed^{tree}") == \
        source.git(default_source.path, "rev-parse", "shipped^{tree}")
    with pytest.raises(HarnessError, match="line 5.10 has no variant 'nope'"):
        source.variants_for(default_source, ["nope"])


def test_variant_commit_ids_are_reproducible(default_source):
    """Fixed identity and dates: the same ids on every machine."""
    import subprocess
    out = subprocess.run(["git", "cat-file", "-p", "shipped"], cwd=default_source.path,
                         capture_output=True, text=True, check=True).stdout
    assert "author kdsync harness <harness@localhost> 1723248000 +0000" in out


def test_user_fio_job_from_any_path_goes_into_the_guest_root(tmp_path):
    from harness import guestroot, workload
    job = tmp_path / "my jobs" / "x.fio"      # under /tmp, with a space
    job.parent.mkdir()
    job.write_text("[x]\n")
    (w,) = workload.resolve([str(job)])
    assert w.args[-1] == job.resolve()          # a file the guest gets a copy of
    assert guestroot.guest_path(job).startswith("/harness/user/")
    assert [w.name for w in workload.resolve(["a", "extending", "g"])] == [
        "extending", "extending", "fsync-race"]
