"""The global-variance post-filter: it gives an over-smooth prediction back the context's spread
and touches nothing else."""

import pytest
import torch

from voicemend.engine.models.mel_transformer import interpolate_gaps
from voicemend.engine.models.postfilter import GlobalVarianceConfig, global_variance


def _example(n_mels=4, n_frames=120, gap=(50, 70), wiggle=0.1, seed=0):
    """Context frames that swing by about ±1 around 0; in the gap, a prediction that is the
    straight line between the gap's neighbours plus a small wiggle."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, n_mels, n_frames, generator=g)
    hidden = torch.zeros(1, n_frames, dtype=torch.bool)
    hidden[0, gap[0] : gap[1]] = True
    left, right = x[..., gap[0] - 1 : gap[0]], x[..., gap[1] : gap[1] + 1]
    t = torch.linspace(0, 1, gap[1] - gap[0] + 2)[1:-1]
    x[..., gap[0] : gap[1]] = left + (right - left) * t + wiggle * torch.sin(t * 12.0)
    return x, hidden


def _spread_around_line(x, hidden):
    line = interpolate_gaps(x, hidden)
    d = (x - line)[..., hidden[0]]
    return d.pow(2).mean(-1).sqrt()


def _reference(x, hidden, n):
    """The spread around lines of n frames, the slow way: every fully seen run, per band."""
    seen = ~hidden[0]
    rows = []
    for start in range(x.shape[-1] - n - 1):
        if bool(seen[start : start + n + 2].all()):
            a, b = x[0, :, start], x[0, :, start + n + 1]
            for k in range(1, n + 1):
                rows.append(x[0, :, start + k] - (a + (b - a) * k / (n + 1)))
    return torch.stack(rows, -1).pow(2).mean(-1).sqrt()


def test_the_gap_gets_the_spread_speech_has_around_a_line_of_its_length():
    x, hidden = _example()
    out = global_variance(x, hidden, GlobalVarianceConfig(strength=1.0, max_scale=100.0))
    torch.testing.assert_close(out[..., ~hidden[0]], x[..., ~hidden[0]], rtol=0, atol=0)
    torch.testing.assert_close(_spread_around_line(out, hidden)[0], _reference(x, hidden, 20))
    # the straight line itself stays: only the deviations from it grow
    before = _spread_around_line(x, hidden)
    assert torch.all(_spread_around_line(out, hidden) > 3 * before)


def test_a_short_gap_in_slowly_moving_speech_is_hardly_touched_and_a_long_one_is():
    """Over a few frames real speech stays near a line too, so a short gap predicted as smooth
    as the speech itself is left alone (the context's spread over its whole length is far larger
    and would have scaled it up to the cap); a long gap predicted too flat is scaled up."""
    t = torch.arange(200, dtype=torch.float32)
    x = torch.sin(2 * torch.pi * t / 80.0).expand(1, 3, 200).clone()  # slow, smooth tracks
    for n_gap, flatten, most in ((3, 1.0, 1.01), (40, 0.2, None)):
        hidden = torch.zeros(1, 200, dtype=torch.bool)
        hidden[0, 100 : 100 + n_gap] = True
        line = interpolate_gaps(x, hidden)
        y = line + flatten * (x - line)  # the truth itself, or flattened toward the line
        out = global_variance(y, hidden, GlobalVarianceConfig(max_scale=3.0))
        grew = _spread_around_line(out, hidden) / _spread_around_line(y, hidden)
        if most is not None:
            assert torch.all(grew < most), grew
        else:
            assert torch.all(grew > 2.0), grew


def test_no_stretch_of_context_as_long_as_the_gap_leaves_it_alone():
    x, hidden = _example(n_frames=60, gap=(10, 50))  # 10 context frames each side, gap of 40
    out = global_variance(x, hidden, GlobalVarianceConfig())
    torch.testing.assert_close(out, x, rtol=0, atol=0)


def test_the_scale_is_capped_and_strength_interpolates_in_log_terms():
    x, hidden = _example()
    before = _spread_around_line(x, hidden)
    capped = global_variance(x, hidden, GlobalVarianceConfig(strength=1.0, max_scale=2.0))
    torch.testing.assert_close(_spread_around_line(capped, hidden), 2.0 * before)
    half = global_variance(x, hidden, GlobalVarianceConfig(strength=0.5, max_scale=4.0))
    torch.testing.assert_close(_spread_around_line(half, hidden), 2.0 * before)


@pytest.mark.parametrize(
    "config", [GlobalVarianceConfig(strength=0.0), GlobalVarianceConfig(1.0, 1.0)]
)
def test_strength_zero_or_a_cap_of_one_changes_nothing(config):
    x, hidden = _example()
    torch.testing.assert_close(global_variance(x, hidden, config), x, rtol=0, atol=0)


def test_a_prediction_livelier_than_its_context_is_not_flattened():
    x, hidden = _example(wiggle=5.0)
    out = global_variance(x, hidden, GlobalVarianceConfig())
    torch.testing.assert_close(out, x, rtol=0, atol=0)


def test_examples_are_filtered_on_their_own_and_degenerate_ones_are_left_alone():
    a, ha = _example(seed=1)
    b, hb = _example(seed=2)
    all_gap = torch.ones_like(hb)
    no_gap = torch.zeros_like(hb)
    batch = torch.cat([a, b, b, b])
    hidden = torch.cat([ha, hb, all_gap, no_gap])
    out = global_variance(batch, hidden, GlobalVarianceConfig())
    torch.testing.assert_close(out[:1], global_variance(a, ha, GlobalVarianceConfig()))
    torch.testing.assert_close(out[1:2], global_variance(b, hb, GlobalVarianceConfig()))
    torch.testing.assert_close(out[2:], batch[2:], rtol=0, atol=0)
    assert torch.isfinite(out).all()


def test_half_precision_in_half_precision_out():
    x, hidden = _example()
    out = global_variance(x.half(), hidden, GlobalVarianceConfig())
    assert out.dtype == torch.float16
    torch.testing.assert_close(
        out.float(), global_variance(x, hidden, GlobalVarianceConfig()), atol=1e-2, rtol=1e-2
    )


@pytest.mark.parametrize(("strength", "cap"), [(-0.1, 6.0), (5.0, 6.0), (1.0, 0.5)])
def test_bad_settings_are_refused_with_their_name(strength, cap):
    with pytest.raises(ValueError, match="global-variance"):
        GlobalVarianceConfig(strength=strength, max_scale=cap)
