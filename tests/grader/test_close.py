"""How `value` checks compare numbers when the author gave no tolerance."""

from __future__ import annotations

import pytest

from grader.grading.checks import close
from grader.models.code import Tolerance


@pytest.mark.parametrize(
    ("wanted", "got", "holds"),
    [
        (11_689_512, 11_689_512, True),
        (11_689_512, 11_689_501, False),  # within relative 1e-6, but a count is exact
        ([2565, 11_179_077], [2565, 11_179_070], False),
        (0.85, 0.8500000001, True),  # floats keep the relative 1e-6
        (2565, 2565.0, True),  # a float that equals the count
        (10**400, 10**400 + 1, False),  # too large for a float: compared as integers
    ],
)
def test_integers_are_equal_or_not_without_a_tolerance(
    wanted: object, got: object, holds: bool
) -> None:
    assert close(wanted, got, None) is holds


def test_an_explicit_tolerance_still_applies_to_integers() -> None:
    assert close(100, 101, Tolerance(absolute=1))
    assert not close(100, 102, Tolerance(absolute=1))
