import subprocess

import pytest

from harness import patches
from harness.errors import HarnessError


def test_series_lists_both_upstream_patches_in_order():
    s = patches.series()
    assert [p.name[:4] for p in s] == ["0001", "0002"]
    assert s[0].subject == "btrfs: dio iomap DSYNC workaround"
    assert s[1].subject == "btrfs: fix crash after non-aligned direct IO write with O_DSYNC"


def test_patches_are_format_patch_files_with_upstream_ids():
    p1, p2 = patches.series()
    t1, t2 = p1.path.read_text(), p2.path.read_text()
    assert t1.startswith("From 0eb79294dbe328debae67961df28113141825d7b Mon Sep 17 00:00:00 2001\n")
    assert t2.startswith("From a6703c71153438d3ebdf58a75d53dd5e57b33095 Mon Sep 17 00:00:00 2001\n")
    assert "From: Josef Bacik <josef@toxicpanda.com>" in t1
    assert "Signed-off-by: David Sterba <dsterba@suse.com>" in t1
    assert "From: Filipe Manana <fdmanana@suse.com>" in t2
    assert "Fixes: 0eb79294dbe328" in t2
    assert {h[0] for h in p1.hunks()} == {"fs/btrfs/file.c", "fs/btrfs/inode.c",
                                         "fs/btrfs/transaction.h"}
    assert [h[0] for h in p2.hunks()] == ["fs/btrfs/inode.c"]


def _tree(tmp_path, files):
    for name, text in files.items():
        f = tmp_path / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    return tmp_path


def _patch(tmp_path, text):
    p = tmp_path / "my.patch"
    p.write_text(text)
    return patches.Patch(p)


DIFF = """--- a/f.c
+++ b/f.c
@@ -1,3 +1,3 @@
 one
-two
+TWO
 three
@@ -10,3 +10,3 @@ int main(void)
 ten
-eleven
+ELEVEN
 twelve
"""


def test_apply_failure_names_file_and_hunk(tmp_path):
    lines = ["one", "two", "three"] + [f"l{i}" for i in range(4, 10)] + ["ten", "XX", "twelve"]
    tree = _tree(tmp_path / "t", {"f.c": "\n".join(lines) + "\n"})
    with pytest.raises(HarnessError) as e:
        patches.apply(tree, _patch(tmp_path, DIFF))
    msg = str(e.value)
    assert "my.patch does not apply" in msg and "f.c hunk #2 (@@ -10,3 +10,3 @@)" in msg
    assert (tree / "f.c").read_text().splitlines()[1] == "two"   # all or nothing


def test_apply_and_revert_round_trip(tmp_path):
    lines = ["one", "two", "three"] + [f"l{i}" for i in range(4, 10)] + ["ten", "eleven", "twelve"]
    original = "\n".join(lines) + "\n"
    tree = _tree(tmp_path / "t", {"f.c": original})
    p = _patch(tmp_path, DIFF)
    patches.apply(tree, p)
    assert "ELEVEN" in (tree / "f.c").read_text()
    patches.apply(tree, p, reverse=True)
    assert (tree / "f.c").read_text() == original


def test_missing_file_is_named(tmp_path):
    tree = _tree(tmp_path / "t", {"other.c": "x\n"})
    with pytest.raises(HarnessError, match="f.c does not exist in the tree"):
        patches.apply(tree, _patch(tmp_path, DIFF))


def test_user_patch_rejects_non_patch(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("hello\n")
    with pytest.raises(HarnessError, match="not a patch"):
        patches.user_patch(f)
    with pytest.raises(HarnessError, match="no such file"):
        patches.user_patch(tmp_path / "nope.patch")


def test_series_round_trips_on_the_shipped_source(default_source, tmp_path):
    """Reverse 0002 then 0001 on the shipped files, forward 0001 then 0002:
    byte for byte the shipped files again (checked on a copy of the files the
    patches touch, taken from the variant/fixed commit = shipped source)."""
    repo = default_source.path
    work = tmp_path / "w"
    files = sorted({h[0] for p in patches.series() for h in p.hunks()})
    shipped = {}
    for f in files:
        data = subprocess.run(["git", "show", f"variant/fixed:{f}"], cwd=repo,
                              capture_output=True, check=True).stdout
        (work / f).parent.mkdir(parents=True, exist_ok=True)
        (work / f).write_bytes(data)
        shipped[f] = data
    for p in reversed(patches.series()):
        patches.apply(work, p, reverse=True)
    assert (work / "fs/btrfs/transaction.h").read_bytes() != shipped["fs/btrfs/transaction.h"]
    assert b"BTRFS_DIO_SYNC_STUB" not in (work / "fs/btrfs/inode.c").read_bytes()
    for p in patches.series():
        patches.apply(work, p)
    for f in files:
        assert (work / f).read_bytes() == shipped[f], f


def test_variant_commits_are_the_patch_states(default_source):
    repo = default_source.path

    def show(ref, f):
        return subprocess.run(["git", "show", f"{ref}:{f}"], cwd=repo, capture_output=True,
                              text=True, check=True).stdout
    assert "BTRFS_DIO_SYNC_STUB" not in show("variant/base", "fs/btrfs/transaction.h")
    wa = show("variant/workaround", "fs/btrfs/inode.c")
    assert "btrfs_maybe_fsync_end_io" in wa and "if (check_direct_IO(fs_info, iter, offset))\n\t\treturn 0;" in wa
    fixed = show("variant/fixed", "fs/btrfs/inode.c")
    assert "if (check_direct_IO(fs_info, iter, offset)) {" in fixed

    def log(ref):
        return subprocess.run(["git", "log", "--format=%an|%s", f"shipped..{ref}"],
                              cwd=repo, capture_output=True, text=True,
                              check=True).stdout.splitlines()
    # every variant is made from the shipped tree by the line's table
    assert log("variant/base") == [
        'kdsync harness|Revert "btrfs: dio iomap DSYNC workaround"',
        'kdsync harness|Revert "btrfs: fix crash after non-aligned direct IO write with O_DSYNC"']
    assert log("variant/fixed") == []
    assert log("variant/nosync") == [
        "kdsync harness|btrfs: TEST ONLY: drop the sync in the async DSYNC direct write "
        "completion",
        'kdsync harness|Revert "btrfs: fix crash after non-aligned direct IO write with O_DSYNC"']
