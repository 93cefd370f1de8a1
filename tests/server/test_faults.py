"""The fault catalogue's names (pure)."""

import pytest

from server.faults import FAULTS, UnknownFault, parse_faults


def test_all_enables_every_fault() -> None:
    """`all` is the pre-fix server: every fault in the catalogue."""
    assert parse_faults(["all"]).enabled == frozenset(FAULTS)


def test_comma_and_repeat_combine() -> None:
    """Faults may be repeated or comma-separated."""
    assert parse_faults(["tasks,buffers", "memory"]).enabled == {"tasks", "buffers", "memory"}


def test_unknown_fault_names_the_known_ones() -> None:
    """A typo gets an error listing every valid name."""
    with pytest.raises(UnknownFault, match="unknown fault 'task'.*tasks.*all"):
        parse_faults(["task"])


def test_no_faults_is_the_fixed_server() -> None:
    """No --leak means nothing enabled."""
    faults = parse_faults([])
    assert not faults and "tasks" not in faults and str(faults) == "none"
