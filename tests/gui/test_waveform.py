"""The waveform view's helpers."""

from voicemend.gui.waveform import MERGE_GAP_FRAMES, merged_ranges


def test_changed_ranges_are_merged_when_near_and_kept_apart_when_far_or_too_long():
    gap = MERGE_GAP_FRAMES
    near = [(100, 110), (0, 10), (110 + gap, 120 + gap)]  # unsorted; each within the gap
    assert merged_ranges(near, 1 << 20) == [(0, 120 + gap)]
    assert merged_ranges([(0, 10), (11 + gap, 20 + gap)], 1 << 20) == [
        (0, 10),
        (11 + gap, 20 + gap),
    ]
    # near, but the read would pass the limit
    assert merged_ranges([(0, 100), (150, 300)], 200) == [(0, 100), (150, 300)]
    assert merged_ranges([(0, 100), (50, 80), (90, 180)], 200) == [(0, 180)]
    assert merged_ranges([], 10) == []
