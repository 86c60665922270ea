"""patches/upstream/: the fixes as they would go to the btrfs list and to
stable.  Their code must be the code the harness builds and runs (the line
patches 0003 and 0004), their tags what upstream asks for, and checkpatch
--strict clean once a person signs them off."""
import re
import subprocess

import pytest

from harness.paths import REPO

KIT = REPO / "patches" / "upstream"

# kit file -> the line patch whose diff it carries (and the tree it applies to)
SAME_CODE = {
    "mainline/0001": "7.3-rc/0003",
    "mainline/0002": "7.3-rc/0004",
    "stable-7.2/0001": "7.2/0003",
    "stable-6.12/0001": "6.12/0003",
    "stable-6.1/0001": "6.1/0003",
}
FIXES = ('Fixes: 8184620ae212 ("btrfs: fix lost file sync on direct IO write with '
         'nowait and dsync iocb")')


def _one(stem: str, base=KIT):
    folder, number = stem.split("/")
    found = sorted((base / folder).glob(f"{number}-*.patch"))
    assert len(found) == 1, (stem, found)
    return found[0]


def code(path) -> list[str]:
    """A patch's diff with what differs between a patch applied alone and the
    same patch applied after another: blob ids and hunk start lines."""
    text = path.read_text()
    diff = text[text.index("\ndiff --git ") + 1:]
    out = []
    for line in diff.splitlines():
        if line.startswith("index "):
            continue
        out.append(re.sub(r"^@@ -\d+,(\d+) \+\d+,(\d+) @@", r"@@ -\1 +\2 @@", line))
    return out


def message(path) -> str:
    text = path.read_text()
    return text[:text.index("\n---\n")]


@pytest.mark.parametrize("kit,line_patch", sorted(SAME_CODE.items()))
def test_the_kit_carries_the_code_the_harness_tested(kit, line_patch):
    assert code(_one(kit)) == code(_one(line_patch, REPO / "patches"))


def test_every_patch_in_the_kit_is_checked():
    files = {f"{p.parent.name}/{p.name[:4]}" for p in KIT.glob("*/*.patch")}
    assert files - {"mainline/0000"} == set(SAME_CODE)


def test_the_tags_are_what_upstream_and_stable_ask_for():
    for stem in SAME_CODE:
        msg = message(_one(stem))
        assert FIXES in msg.splitlines(), stem
        # a person certifies the DCO; the kit leaves the sign-off to them
        assert "Signed-off-by:" not in msg, stem
        assert "harness" not in msg.split("\n\n", 1)[1].lower(), stem
        stable = stem.startswith("stable-")
        assert ("\ncommit MAINLINE-COMMIT-ID upstream.\n" in msg) == stable, stem
        assert re.search(r"^Subject: \[PATCH " + (re.escape(stem[7:stem.index("/")]) + r"\]"
                                                   if stable else r"[12]/2\]"), msg, re.M), stem
    assert "Cc: stable@vger.kernel.org # 6.1+" in message(_one("mainline/0001"))
    # the double sync costs flushes; it loses nothing: no stable tag
    assert "Cc: stable" not in message(_one("mainline/0002"))
    cover = (KIT / "mainline" / "0000-cover-letter.patch").read_text()
    assert "*** SUBJECT HERE ***" not in cover and "*** BLURB HERE ***" not in cover
    assert re.search(r"^Subject: \[PATCH 0/2\] btrfs: ", cover, re.M)


def test_the_kit_passes_checkpatch_strict_once_signed_off(tmp_path):
    """With the sender's sign-off added (a placeholder here), checkpatch.pl of
    7.2's tree (make test fetches no 7.3 tree) finds nothing but the Fixes:
    id it cannot look up in a tree without history."""
    from harness import lines, source
    src = source.resolve(line=lines.get("7.2"), progress=lambda m: None)
    for stem in SAME_CODE:
        path = _one(stem)
        text = path.read_text()
        author = re.search(r"^From: (.+)$", text, re.M).group(1)
        cut = text.index("\n---\n")
        signed = tmp_path / path.name
        signed.write_text(text[:cut] + f"\nSigned-off-by: {author}" + text[cut:])
        cp = subprocess.run(["perl", "scripts/checkpatch.pl", "--strict", "--no-tree",
                             "--ignore", "UNKNOWN_COMMIT_ID", str(signed)],
                            cwd=src.path, capture_output=True, text=True, timeout=120)
        assert cp.returncode == 0, (stem, cp.stdout[-2000:])
        assert "total: 0 errors, 0 warnings, 0 checks" in cp.stdout, stem
