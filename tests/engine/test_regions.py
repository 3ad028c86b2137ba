import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voicemend.engine import Region, RegionError, normalize_regions, parse_region_spec, parse_time_s
from voicemend.engine.regions import format_time_s


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [(5, 3, "reversed"), (4, 4, "zero length"), (-1, 3, "before the audio")],
)
def test_invalid_regions(start, end, message):
    with pytest.raises(RegionError, match=message):
        Region(start, end)


def test_out_of_range_region_is_rejected():
    with pytest.raises(RegionError, match="ends after the audio"):
        normalize_regions([Region(10, 200)], 100)


def test_overlapping_and_adjacent_regions_merge():
    merged = normalize_regions([Region(50, 60), Region(0, 10), Region(10, 20), Region(15, 30)], 100)
    assert merged == [Region(0, 30), Region(50, 60)]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("12.5", 12.5), ("1:02.5", 62.5), ("01:02.500", 62.5), ("1:00:00.25", 3600.25), ("0", 0.0)],
)
def test_parse_time(text, seconds):
    assert parse_time_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["abc", "-1", "1:75", "nan", "inf", ""])
def test_parse_time_rejects(text):
    with pytest.raises(RegionError):
        parse_time_s(text)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("1.0:1.2", (1.0, 1.2)),
        ("0:01.0:0:01.2", (1.0, 1.2)),
        ("1:02.5-1:02.7", (62.5, 62.7)),
        ("0:00:01.5:0:00:02", (1.5, 2.0)),
    ],
)
def test_parse_region_spec(spec, expected):
    assert parse_region_spec(spec) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("spec", "message"),
    [("2:1", "reversed"), ("1:1", "zero length"), ("1:2:3", "same form"), ("x:y", "cannot read")],
)
def test_parse_region_spec_rejects(spec, message):
    with pytest.raises(RegionError, match=message):
        parse_region_spec(spec)


def test_from_seconds_rounds_outwards():
    r = Region.from_seconds(0.10001, 0.20001, 1000)
    assert (r.start, r.end) == (100, 201)


def test_format_time():
    assert format_time_s(62.5) == "01:02.500"
    assert format_time_s(3725.0) == "1:02:05.000"


region_lists = st.lists(
    st.tuples(st.integers(0, 999), st.integers(1, 200)).map(
        lambda t: Region(t[0], min(1000, t[0] + t[1]))
    ),
    max_size=20,
)


@given(region_lists)
def test_merge_invariants(regions):
    merged = normalize_regions(regions, 1000)
    covered = set().union(*(range(r.start, r.end) for r in regions)) if regions else set()
    merged_cover = set().union(*(range(r.start, r.end) for r in merged)) if merged else set()
    assert covered == merged_cover  # same samples, nothing lost or added
    for a, b in itertools.pairwise(merged):
        assert a.end < b.start  # sorted, disjoint and not touching
    assert normalize_regions(merged, 1000) == merged  # idempotent


def test_shifted_moves_both_edges_and_stays_valid():
    assert Region(10, 20).shifted(5) == Region(15, 25)
    assert Region(10, 20).shifted(-10) == Region(0, 10)
    with pytest.raises(RegionError):
        Region(10, 20).shifted(-11)


def test_holders_finds_the_merged_region_each_piece_lies_in():
    from voicemend.engine.regions import holders

    pieces = [Region(10, 20), Region(20, 30), Region(50, 60), Region(55, 58), Region(90, 91)]
    todo = normalize_regions(pieces, 100)
    assert todo == [Region(10, 30), Region(50, 60), Region(90, 91)]
    assert holders(todo, pieces) == [0, 0, 1, 1, 2]
    assert holders(todo, []) == []
