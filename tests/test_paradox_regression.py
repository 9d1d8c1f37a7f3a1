"""A counterexample the property run found (docs/memory-score.md section 8, "linking a
recovery never lowers the score"): a weak answer linked before an excellent one took the
recovery-paradox bonus away from the excellent one."""

from dataclasses import replace

from memory.engine import MemoryParameters, Touch, recompute, score_of

P = MemoryParameters()
COMPLAINT = Touch(1, 0.0, 1, "anticipation", "call", -1, 1)
WEAK = Touch(2, 0.0, 1, "anticipation", "call", 1, 1)
EXCELLENT = Touch(3, 0.0, 1, "anticipation", "call", 2, 3, resolves_id=1)


def test_linking_a_weak_recovery_before_an_excellent_one_keeps_the_paradox() -> None:
    unlinked = [COMPLAINT, WEAK, EXCELLENT]
    linked = [COMPLAINT, replace(WEAK, resolves_id=1), EXCELLENT]
    assert recompute(unlinked, P).paradox_recoveries == {3}
    assert recompute(linked, P).paradox_recoveries == {3}
    assert score_of(linked, 0.0, P) >= score_of(unlinked, 0.0, P) - 1e-9


def test_only_an_excellent_and_quick_recovery_earns_the_paradox() -> None:
    weak_only = [COMPLAINT, replace(WEAK, resolves_id=1)]
    assert recompute(weak_only, P).paradox_recoveries == set()
    late = [COMPLAINT, replace(EXCELLENT, at=8 * 86_400.0)]
    assert recompute(late, P).paradox_recoveries == set()
