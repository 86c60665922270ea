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
    src = source.resolve(git_url=f"file://{default_source.path}", git_ref="variant/fixed",
                         progress=lambda m: None)
    try:
        assert src.kind == "git"
        vs = source.variants_for(src, None)
        assert [v.name for v in vs] == list(source.DEFAULT_VARIANTS)
        for name in source.DEFAULT_VARIANTS:
            assert tree(src.path, f"variant/{name}") == tree(default_source.path,
                                                             f"variant/{name}"), name
    finally:
        shutil.rmtree(tmp_path / "cache", ignore_errors=True)
