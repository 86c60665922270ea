"""Every line table states the README's claims (tests/readme_claims.py,
written out from the README): change one claim in a table, or in the
README's rules, and this turns red.  Whether the kernels agree is
tests/test_lines_full_vm.py's job (`make test-lines`) and, for the cells
that carry the claims, tests/test_matrix.py, test_lines_vm.py and
test_writethrough_vm.py in `make test`."""
import pytest

import readme_claims
from harness import lines


@pytest.mark.parametrize("line", sorted(lines.all_lines()))
def test_the_line_table_states_the_readme_claims(line):
    want, got = readme_claims.claims(line), readme_claims.table_claims(line)
    assert set(want) == set(got)
    wrong = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    assert not wrong, f"{line}: (table, README) differ: {wrong}"


def test_a_changed_claim_is_seen(monkeypatch):
    """The check can fail: one FAIL claim dropped from 7.2's table."""
    L = lines.get("7.2")
    rebreak = L.variant("rebreak")
    monkeypatch.setitem(rebreak.fail, "extending", rebreak.fail["wb-error"])
    monkeypatch.delitem(rebreak.fail, "wb-error")
    got = readme_claims.table_claims("7.2")
    assert got[("rebreak", "wb-error")] == ("PASS", None)
    assert got != readme_claims.claims("7.2")


def test_a_dropped_variant_or_a_newly_skipped_shape_is_seen(monkeypatch):
    """The claims used to take the variants and the skipped shapes from the
    table under test: skipping 6.1's FUA cut shapes and wb-error and
    deleting fix-writethrough left the test green."""
    import dataclasses
    real = lines.get("6.1")
    fewer = dataclasses.replace(real, variants=tuple(v for v in real.variants
                                                     if v.name != "fix-writethrough"))
    skips = dataclasses.replace(real, skip_workloads=("cut-cow@fua", "wb-error"))
    for table in (fewer, skips):
        monkeypatch.setattr(lines, "get", lambda name, t=table: t)
        assert set(readme_claims.claims("6.1")) != set(readme_claims.table_claims("6.1"))
