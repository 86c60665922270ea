"""--git-url/--git-ref (what the nightly workflow uses on Ubuntu runners): a
shallow clone of a tag that ships the series gets the same variants, and
their trees are byte for byte those of the default source's variants.  The
"remote" here is the default source's own repository as a file:// URL."""
import shutil
import subprocess

from harness import source


def tree(repo, ref):
    return subprocess.run(["git", "rev-parse", f"{ref}^{{tree}}"], cwd=repo,
                          capture_output=True, text=True, check=True).stdout.strip()


def test_git_url_and_tag_get_the_same_variants(default_source, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    src = source.resolve(git_url=f"file://{default_source.path}", git_ref="shipped",
                         progress=lambda m: None)
    try:
        assert src.kind == "git" and src.line.name == "5.10"     # from the tree's version
        vs = source.variants_for(src, None)
        names = [v.name for v in default_source.line.variants]
        assert [v.name for v in vs] == names and not src.broken
        for name in names:
            assert tree(src.path, f"variant/{name}") == tree(default_source.path,
                                                             f"variant/{name}"), name
    finally:
        shutil.rmtree(tmp_path / "cache", ignore_errors=True)
