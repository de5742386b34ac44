"""Item statistics on a course small enough to work out by hand: every expected number below is
derived in the comments from the table of attempts, never copied from the code's output. Then
the edges (nobody, one student, everyone right, no mcq picks) and the two renderings: the
terminal table and the self-contained HTML page, which must escape what authors wrote."""

from __future__ import annotations

import json
import math
from html.parser import HTMLParser

import pytest

from grader.courses import stats_html, stats_text
from grader.courses.stats import (
    Attempt,
    CourseStats,
    Flag,
    ItemInfo,
    ItemStats,
    OptionStats,
    item_stats,
    nearest_rank,
    point_biserial,
)

ABCD = ("A", "B", "C", "D")
CHECKS = ("shape", "dtype", "loss")


def mcq(student: str, attempt: int, choice: str | None, key: str = "B") -> Attempt:
    right = choice == key
    return Attempt(student, "m1", attempt, float(right), right, choice=choice)


def code(
    student: str,
    attempt: int,
    score: float,
    failed: tuple[str, ...],
    duration: float,
    checks: tuple[str, ...] = CHECKS,
) -> Attempt:
    correct = not failed
    return Attempt(student, "c1", attempt, score, correct, None, failed, checks, duration)


def other(item: str, student: str, score: float, duration: float = 0.0) -> Attempt:
    return Attempt(student, item, 1, score, score == 1.0, duration_s=duration)


# The course. Five students, s1..s5; best scores per item (an item not attempted counts 0):
#
#          n1   m1   c1   x9   total
#   s1     1    1    1.0  1    4.0
#   s2     1    1    0.5  0    2.5
#   s3     1    1    0.0  0.5  2.5
#   s4     1    0    0.0  1    2.0
#   s5     1    1    -    -    2.0
ITEMS = [
    ItemInfo("m1", "mcq", ABCD, "B"),
    ItemInfo("n1", "numeric"),
    ItemInfo("c1", "code"),
    ItemInfo("e1", "mcq", ("A", "B"), "A"),  # in the bank, attempted by nobody
]
ATTEMPTS = [
    # m1, key B. First choices: s1 C, s2 B, s3 C, s4 A, s5 B. s1 and s3 get it at attempt 2.
    mcq("s1", 2, "B"),  # given before attempt 1: the first attempt is the lowest number
    mcq("s1", 1, "C"),
    mcq("s2", 1, "B"),
    mcq("s3", 1, "C"),
    mcq("s3", 2, "B"),
    mcq("s4", 1, "A"),
    mcq("s5", 1, "B"),
    # n1: everyone right at once; durations 5, 1, 4, 2, 3.
    other("n1", "s1", 1.0, 5.0),
    other("n1", "s2", 1.0, 1.0),
    other("n1", "s3", 1.0, 4.0),
    other("n1", "s4", 1.0, 2.0),
    other("n1", "s5", 1.0, 3.0),
    # c1 (code): only s1 passes, at attempt 2. s3's report has a fourth check, grad; s4's
    # program stopped after shape, so its report lists shape only.
    code("s1", 1, 0.5, ("loss",), 2.0),
    code("s1", 2, 1.0, (), 4.0),
    code("s2", 1, 0.5, ("dtype", "loss"), 1.0),
    code("s3", 1, 0.0, ("shape", "grad"), 8.0, (*CHECKS, "grad")),
    code("s4", 1, 0.0, ("shape",), 3.0, ("shape",)),
    # x9: not among the items (kind "unknown"). s1 and s4 right, s3 half, s2 nothing.
    other("x9", "s1", 1.0),
    other("x9", "s2", 0.0),
    other("x9", "s3", 0.5),
    other("x9", "s4", 1.0),
]


@pytest.fixture(scope="module")
def course() -> CourseStats:
    return item_stats(ATTEMPTS, ITEMS)


def row(stats: CourseStats, item: str) -> ItemStats:
    return next(r for r in stats.items if r.id == item)


def test_the_rows_follow_the_items_then_the_unknown_ones(course: CourseStats) -> None:
    assert course.students == 5
    assert [(r.id, r.kind) for r in course.items] == [
        ("m1", "mcq"),
        ("n1", "numeric"),
        ("c1", "code"),
        ("e1", "mcq"),
        ("x9", "unknown"),
    ]
    counts = [(r.students, r.attempts) for r in course.items]
    assert counts == [(5, 7), (5, 5), (4, 5), (0, 0), (4, 4)]


def test_facility_first_and_final(course: CourseStats) -> None:
    facility = {r.id: (r.facility_first, r.facility_final) for r in course.items}
    # m1: right at attempt 1: s2, s5 -> 2/5; right in the end: s1, s2, s3, s5 -> 4/5.
    assert facility["m1"] == (2 / 5, 4 / 5)
    # n1: all five right at once.
    assert facility["n1"] == (1.0, 1.0)
    # c1: nobody right at attempt 1 (0/4); s1 in the end (1/4).
    assert facility["c1"] == (0.0, 0.25)
    # x9: s1, s4 right at their only attempt: 2/4 both.
    assert facility["x9"] == (0.5, 0.5)
    assert facility["e1"] == (None, None)


def test_discrimination_of_each_item(course: CourseStats) -> None:
    # m1, rest = total - m1: s1 3.0, s2 1.5, s3 1.5, s4 2.0, s5 1.0; right: all but s4.
    #   M1 = (3 + 1.5 + 1.5 + 1) / 4 = 1.75, M0 = 2.0; mean 9/5 = 1.8;
    #   squared deviations 1.44 + .09 + .09 + .04 + .64 = 2.3, s = sqrt(2.3 / 5) = sqrt(.46);
    #   p = .8, sqrt(pq) = .4 -> r = (1.75 - 2) / sqrt(.46) * .4 = -0.1 / sqrt(.46) = -0.1474
    assert row(course, "m1").discrimination == pytest.approx(-0.1 / math.sqrt(0.46))
    # c1, rest = total - c1: s1 3.0, s2 2.0, s3 2.5, s4 2.0; right: s1.
    #   M1 = 3, M0 = 6.5 / 3; mean 9.5 / 4 = 2.375;
    #   squared deviations .390625 + .140625 + .015625 + .140625 = .6875, s² = .171875 = 11/64;
    #   p = .25, pq = 3/16 -> r = (5/6) * sqrt((3/16) / (11/64)) = (5/6) * sqrt(12/11) = 0.8704
    assert row(course, "c1").discrimination == pytest.approx(5 / 6 * math.sqrt(12 / 11))
    # x9, rest = total - x9: s1 3.0, s2 2.5, s3 2.0, s4 1.0; right: s1, s4.
    #   M1 = 2.0, M0 = 2.25; mean 2.125; squared deviations .765625 + .140625 + .015625
    #   + 1.265625 = 2.1875, s² = .546875; p = .5 -> r = -.25 / sqrt(.546875) * .5 = -0.1690
    assert row(course, "x9").discrimination == pytest.approx(-0.125 / math.sqrt(0.546875))
    # n1: everyone right (p = 1); e1: nobody attempted.
    assert row(course, "n1").discrimination is None
    assert row(course, "e1").discrimination is None


def test_mcq_option_shares_and_groups(course: CourseStats) -> None:
    # Five first choices, all valid: A s4, B s2 s5, C s1 s3, D nobody.
    # Groups: ceil(27% of 5) = 2. Sorted by (total, id): s4 2.0, s5 2.0, s2 2.5, s3 2.5, s1 4.0;
    # weak = s4, s5 (A, B); strong = s3, s1 (C, C): the s2/s3 tie at 2.5 goes to s3 by id
    # (had s2 been taken, strong would be B 50%, C 50%).
    assert row(course, "m1").options == [
        OptionStats("A", 1, 0.2, False, picked_by_strong=0.0, picked_by_weak=0.5),
        OptionStats("B", 2, 0.4, True, picked_by_strong=0.0, picked_by_weak=0.5),
        OptionStats("C", 2, 0.4, False, picked_by_strong=1.0, picked_by_weak=0.0),
        OptionStats("D", 0, 0.0, False, picked_by_strong=0.0, picked_by_weak=0.0),
    ]


def test_an_mcq_nobody_attempted_still_lists_its_options(course: CourseStats) -> None:
    assert row(course, "e1").options == [
        OptionStats("A", 0, None, True, None, None),
        OptionStats("B", 0, None, False, None, None),
    ]


def test_options_only_for_mcq(course: CourseStats) -> None:
    assert [r.id for r in course.items if r.options] == ["m1", "e1"]


def test_check_failure_rates_are_over_all_graded_attempts(course: CourseStats) -> None:
    # Five c1 attempts. First seen: shape, dtype, loss (s1's report), then grad (s3's).
    # shape failed for s3, s4: 2/5; dtype for s2: 1/5; loss for s1's first and s2: 2/5;
    # grad for s3: 1/5 (not 1/1: the other reports did not list it, and did not fail it).
    rates = row(course, "c1").check_failure_rates
    assert list(rates) == ["shape", "dtype", "loss", "grad"]
    assert rates == {"shape": 0.4, "dtype": 0.2, "loss": 0.4, "grad": 0.2}
    assert [r.id for r in course.items if r.check_failure_rates] == ["c1"]


def test_median_attempts_to_pass(course: CourseStats) -> None:
    medians = {r.id: r.median_attempts_to_pass for r in course.items}
    # m1: first right attempts s1 2, s2 1, s3 2, s5 1 -> median of 1, 1, 2, 2 = 1.5.
    # c1: s1 at 2 only. n1: all at 1. x9: s1, s4 at 1. e1: nobody passed.
    assert medians == {"m1": 1.5, "n1": 1.0, "c1": 2.0, "e1": None, "x9": 1.0}


def test_duration_percentiles_by_nearest_rank(course: CourseStats) -> None:
    # n1 sorted: 1 2 3 4 5. p50: rank ceil(2.5) = 3 -> 3; p95: rank ceil(4.75) = 5 -> 5.
    assert (row(course, "n1").duration_p50, row(course, "n1").duration_p95) == (3.0, 5.0)
    # c1 sorted: 1 2 3 4 8 -> 3 and 8.
    assert (row(course, "c1").duration_p50, row(course, "c1").duration_p95) == (3.0, 8.0)
    assert (row(course, "e1").duration_p50, row(course, "e1").duration_p95) == (None, None)


@pytest.mark.parametrize(
    ("values", "percent", "expected"),
    [
        ([7.0], 50, 7.0),
        ([7.0], 95, 7.0),
        ([4.0, 1.0], 50, 1.0),  # rank ceil(1.0) = 1
        ([float(v) for v in range(1, 21)], 95, 19.0),  # rank ceil(19.0) = 19, not 20
        ([float(v) for v in range(1, 101)], 95, 95.0),
        ([], 50, None),
    ],
    ids=["one-p50", "one-p95", "two-p50", "twenty-p95", "hundred-p95", "none"],
)
def test_nearest_rank(values: list[float], percent: int, expected: float | None) -> None:
    assert nearest_rank(values, percent) == expected


def test_flags_in_item_order(course: CourseStats) -> None:
    # m1: r < 0; D unpicked with 5 choosers; C drew strong 100% > weak 0% (A: 0% < 50%, no).
    # n1: facility 100% > 95%. c1: facility 0% < 20% (r > 0, no flag). x9: r < 0.
    assert [(f.item, f.code) for f in course.flagged] == [
        ("m1", "negative-discrimination"),
        ("m1", "unpicked-distractor"),
        ("m1", "strong-pick-distractor"),
        ("n1", "too-easy"),
        ("c1", "too-hard"),
        ("x9", "negative-discrimination"),
    ]
    assert course.flagged == [f for r in course.items for f in r.flags]


def test_flag_messages_name_the_item_and_the_reason(course: CourseStats) -> None:
    messages = {(f.item, f.code): f.message for f in course.flagged}
    assert messages["m1", "negative-discrimination"] == (
        "m1: discrimination -0.15: students who do well elsewhere get it wrong; check the key"
    )
    assert "nobody of 5 chose D" in messages["m1", "unpicked-distractor"]
    assert (
        "C drew 100% of the strongest students but 0% of the weakest"
        in (messages["m1", "strong-pick-distractor"])
    )
    assert messages["c1", "too-hard"].startswith("c1: 0% right at the first attempt")
    assert messages["n1", "too-easy"].startswith("n1: 100% right at the first attempt")
    assert all("\n" not in m for m in messages.values())


def flag_codes(attempts: list[Attempt], items: list[ItemInfo]) -> list[str]:
    return [f.code for f in item_stats(attempts, items).flagged]


def test_facility_thresholds_are_strict() -> None:
    # 1 of 5 right first: 20% is not under 20%. 19 of 20: 95% is not over 95%.
    fifth = [other("n", f"s{i}", float(i == 0)) for i in range(5)]
    assert "too-hard" not in flag_codes(fifth, [ItemInfo("n", "numeric")])
    most = [other("n", f"s{i:02}", float(i != 0)) for i in range(20)]
    assert "too-easy" not in flag_codes(most, [ItemInfo("n", "numeric")])


def test_an_unpicked_distractor_needs_five_choosers() -> None:
    # Four students, all on B or C: A and D unpicked, but 4 < 5 choosers: no flag.
    four = [mcq(f"s{i}", 1, "BC"[i % 2]) for i in range(4)]
    assert "unpicked-distractor" not in flag_codes(four, [ItemInfo("m1", "mcq", ABCD, "B")])
    # A fifth chooser: A and D flagged (B is the key, and never flagged).
    five = [*four, mcq("s4", 1, "C")]
    stats = item_stats(five, [ItemInfo("m1", "mcq", ABCD, "B")])
    unpicked = [f.message for f in stats.flagged if f.code == "unpicked-distractor"]
    assert [m.split(";")[0] for m in unpicked] == [
        "m1: nobody of 5 chose A",
        "m1: nobody of 5 chose D",
    ]


def test_no_distractor_flags_without_a_key() -> None:
    five = [mcq(f"s{i}", 1, "B") for i in range(5)]
    # Everyone right, so too easy; A, C, D unpicked by 5, but with no key none is a distractor.
    assert flag_codes(five, [ItemInfo("m1", "mcq", ABCD, None)]) == ["too-easy"]


def test_first_choices_outside_the_letters_are_not_counted() -> None:
    # First choices: A, none, Z (not a letter), and D at attempt 2 does not count.
    attempts = [mcq("s1", 1, "A"), mcq("s2", 1, None), mcq("s3", 1, "Z"), mcq("s1", 2, "D")]
    options = item_stats(attempts, [ItemInfo("m1", "mcq", ABCD, "A")]).items[0].options
    # One valid first choice: A 1/1. Three students < 4: no groups.
    assert [(o.letter, o.picked, o.share) for o in options] == [
        ("A", 1, 1.0),
        ("B", 0, 0.0),
        ("C", 0, 0.0),
        ("D", 0, 0.0),
    ]
    assert {(o.picked_by_strong, o.picked_by_weak) for o in options} == {(None, None)}


def test_no_mcq_picks_leaves_the_shares_unknown() -> None:
    # Four students submitted nothing readable: the shares are None, not 0%.
    attempts = [mcq(f"s{i}", 1, None) for i in range(4)]
    options = item_stats(attempts, [ItemInfo("m1", "mcq", ("A", "B"), "A")]).items[0].options
    assert [(o.share, o.picked_by_strong, o.picked_by_weak) for o in options] == [
        (None, None, None),
        (None, None, None),
    ]


def test_groups_are_27_percent_rounded_up_in_exact_arithmetic() -> None:
    # 900 students, p000 weakest .. p899 strongest (score i/900 on another item, 0 on m1).
    # ceil(27% of 900) = 243 (in floats 900 * 0.27 is 243.00000000000003, whose ceil is 244).
    # p657..p899 (243 students) chose A; the rest C: a 244th strong student would have chosen C.
    attempts = [other("n", f"p{i:03}", i / 900) for i in range(900)]
    attempts += [mcq(f"p{i:03}", 1, "A" if i >= 657 else "C") for i in range(900)]
    stats = item_stats(attempts, [ItemInfo("m1", "mcq", ABCD, "B")])
    a = stats.items[0].options[0]
    assert (a.picked_by_strong, a.picked_by_weak) == (1.0, 0.0)
    assert a.share == pytest.approx(0.27)


def test_one_student() -> None:
    stats = item_stats(
        [mcq("solo", 1, "C"), mcq("solo", 2, "B")], [ItemInfo("m1", "mcq", ABCD, "B")]
    )
    item = stats.items[0]
    assert (stats.students, item.students, item.attempts) == (1, 1, 2)
    assert (item.facility_first, item.facility_final) == (0.0, 1.0)
    assert item.discrimination is None  # fewer than 2 students
    assert item.options[2] == OptionStats("C", 1, 1.0, False, None, None)
    assert item.median_attempts_to_pass == 2.0
    assert [f.code for f in stats.flagged] == ["too-hard"]  # 1 chooser: no distractor flags


def test_everyone_right_has_no_discrimination() -> None:
    attempts = [other("n", f"s{i}", 1.0) for i in range(6)] + [other("x", "s0", 1.0)]
    item = item_stats(attempts, [ItemInfo("n", "numeric")]).items[0]
    assert item.facility_first == 1.0
    assert item.discrimination is None


def test_equal_rest_scores_have_no_discrimination() -> None:
    # One right, one wrong, no other item: both rest scores 0, s = 0.
    attempts = [other("n", "s1", 1.0), other("n", "s2", 0.0)]
    assert item_stats(attempts, []).items[0].discrimination is None


def test_point_biserial_by_hand() -> None:
    # Right: 4 and 2; wrong: 0 and 2. M1 = 3, M0 = 1; mean 2; s = sqrt((4 + 0 + 4 + 0) / 4)
    # = sqrt(2); p = .5 -> r = 2 / sqrt(2) * .5 = 0.7071.
    r = point_biserial([True, False, True, False], [4.0, 0.0, 2.0, 2.0])
    assert r == pytest.approx(1 / math.sqrt(2))
    assert point_biserial([True], [1.0]) is None
    assert point_biserial([False, False], [1.0, 2.0]) is None


def test_empty_input() -> None:
    stats = item_stats([], [])
    assert (stats.students, stats.items, stats.flagged) == (0, [], [])
    assert stats.to_json() == {"students": 0, "items": [], "flagged": []}


def test_items_without_attempts_get_a_row_of_nothing() -> None:
    item = item_stats([], [ItemInfo("c1", "code")]).items[0]
    assert (item.students, item.attempts, item.options, item.check_failure_rates) == (0, 0, [], {})
    assert (item.facility_first, item.facility_final, item.discrimination) == (None, None, None)
    assert (item.median_attempts_to_pass, item.duration_p50, item.flags) == (None, None, [])


def test_json_is_plain(course: CourseStats) -> None:
    data = course.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["items"][0]["options"][2]["picked_by_strong"] == 1.0
    assert data["flagged"][0] == {
        "item": "m1",
        "code": "negative-discrimination",
        "message": course.flagged[0].message,
    }


# The terminal table.


def test_text_table(course: CourseStats) -> None:
    lines = stats_text.render(course).splitlines()
    assert lines[0] == "5 students, 5 items, 6 flags"
    assert lines[1].split() == [
        "item", "kind", "students", "attempts", "first", "final", "disc", "p50", "s", "p95", "s"
    ]  # fmt: skip
    assert lines[2].split() == ["m1", "mcq", "5", "7", "40%", "80%", "-0.15", "0.0", "0.0"]
    assert lines[3] == "    A 20% · B 40%* · C 40% · D 0%"
    assert lines[4].split() == ["n1", "numeric", "5", "5", "100%", "100%", "—", "3.0", "5.0"]
    assert lines[6] == "    checks failed: shape 40% · dtype 20% · loss 40% · grad 20%"
    assert lines[7].split() == ["e1", "mcq", "0", "0", "—", "—", "—", "—", "—"]
    assert lines[8] == "    A —* · B —"
    flags = [line for line in lines if line.startswith("FLAG ")]
    assert flags[3] == "FLAG too-easy " + course.flagged[3].message
    assert len(flags) == 6


def test_text_columns_line_up(course: CourseStats) -> None:
    table = [line for line in stats_text.render(course).splitlines()[1:] if line[:1] not in " F"]
    ends = {line.index("%") for line in table[1:] if "%" in line}
    assert len(ends) == 1  # the "first" column is right-aligned


def test_text_never_writes_control_characters() -> None:
    stats = item_stats([other("\x1b[31mred", "s1", 1.0)], [])
    text = stats_text.render(stats)
    assert "\x1b" not in text
    assert "?[31mred" in text


# The HTML page.

HOSTILE = "<script>alert(1)</script>"


class TagBalance(HTMLParser):
    """Every opened element closed, in order (void elements excepted)."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.seen: set[str] = set()
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.add(tag)
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.add(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()


def balanced(page: str) -> TagBalance:
    parser = TagBalance()
    parser.feed(page)
    parser.close()
    assert parser.errors == []
    assert parser.open == []
    return parser


@pytest.fixture(scope="module")
def page(course: CourseStats) -> str:
    return stats_html.render(course, "Transfer learning — week 3")


def test_html_is_balanced_and_has_charts(page: str) -> None:
    parser = balanced(page)
    assert page.startswith("<!doctype html>")
    assert {"html", "head", "style", "body", "table", "svg", "rect", "line", "text"} <= parser.seen
    # facility, discrimination, one mcq with options (m1) plus e1's empty one, one code item
    assert page.count("<svg") == 5


def test_html_header_counts(page: str) -> None:
    assert "<strong>5</strong> students" in page
    assert '<strong class="alert">6</strong> flags on <strong>4</strong> items' in page


def test_html_highlights_flagged_rows(page: str) -> None:
    assert page.count('<tr class="flagged">') == 4  # m1, n1, c1, x9
    assert page.count('<span class="badge"') == 2 * 6  # in the table and in the flag list


def test_html_marks_the_key(page: str) -> None:
    assert ">B (key)</text>" in page
    assert page.count('<rect class="answer"') == 2  # m1's B and e1's A


def test_html_draws_a_zero_line_and_negative_bars(page: str) -> None:
    assert page.count('<line class="zero"') == 1
    assert page.count('<rect class="neg"') == 2  # m1, x9
    assert page.count('<rect class="pos"') == 1  # c1


def test_html_names_no_address(page: str) -> None:
    lowered = page.lower().replace('xmlns="http://www.w3.org/2000/svg"', "")
    for forbidden in ("http://", "https://", "//", "<script", "url(", "@import", " src="):
        assert forbidden not in lowered, forbidden


def test_html_escapes_everything_from_data() -> None:
    attempts = [
        Attempt("s1", HOSTILE, 1, 0.0, False, None, (HOSTILE,), (HOSTILE,)),
        Attempt("s2", HOSTILE, 1, 1.0, True, None, (), (HOSTILE,)),
        Attempt("s1", "m", 1, 0.0, False, choice=HOSTILE),
    ]
    items = [ItemInfo(HOSTILE, "code"), ItemInfo("m", HOSTILE, ('"><b>x', "B"), "B")]
    stats = item_stats(attempts, items)
    assert stats.items[0].check_failure_rates == {HOSTILE: 0.5}
    page = stats_html.render(stats, HOSTILE)
    balanced(page)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>" not in page


def test_html_escapes_a_hostile_mcq_letter() -> None:
    attempts = [mcq(f"s{i}", 1, "BC"[i % 2]) for i in range(5)]
    stats = item_stats(attempts, [ItemInfo("m1", "mcq", ('"><b>x', "B", "C"), "B")])
    # Nobody of 5 chose the hostile letter: it reaches a flag message as well as a chart label.
    assert [f.code for f in stats.flagged] == ["unpicked-distractor"]
    page = stats_html.render(stats, "t")
    balanced(page)
    assert "<b>" not in page
    assert "&quot;&gt;&lt;b&gt;x" in page


def test_html_of_nothing() -> None:
    page = stats_html.render(CourseStats(0, [], []), "Empty")
    balanced(page)
    assert "No items." in page
    assert "No flags." in page
    assert "<svg" not in page


def test_flag_dataclass_is_what_the_page_shows() -> None:
    flag = Flag("i", "too-hard", "i: 0% right")
    item = ItemStats("i", "numeric", 1, 1, 0.0, 0.0, None, flags=[flag])
    page = stats_html.render(CourseStats(1, [item], [flag]), "t")
    assert '<span class="badge" title="i: 0% right">too-hard</span>' in page
