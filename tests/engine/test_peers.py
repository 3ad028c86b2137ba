"""The tPLCnet peer: known audio passes through exactly, lost samples are concealed."""

import numpy as np
import pytest

from voicemend.engine import Audio, Region
from voicemend.engine.evaluation.peers import PEERS, Tplcnet, get_method, peers_root

from ..conftest import speech_like

MODEL = peers_root() / "tplcnet" / "tPLCnet_s.tflite"
pytestmark = pytest.mark.skipif(not MODEL.exists(), reason=f"peer model not found at {MODEL}")


@pytest.fixture(scope="module")
def peer():
    pytest.importorskip("ai_edge_litert")
    return Tplcnet()


def test_known_windows_pass_through_and_the_loss_is_filled(peer):
    x = speech_like(2.0, 16000).astype(np.float64)
    lost = np.zeros(x.size, bool)
    np.testing.assert_allclose(peer.conceal(x, lost), x, atol=1e-6)
    lost[16000:16480] = True
    y = peer.conceal(x, lost)
    np.testing.assert_allclose(y[:15800], x[:15800], atol=1e-6)  # before the loss: untouched
    assert np.sqrt(np.mean(y[16000:16160] ** 2)) > 0.1 * np.sqrt(np.mean(x[16000:16160] ** 2))


def test_as_a_bench_method_it_repairs_only_the_gap(peer):
    audio = Audio.from_array(speech_like(2.0, 16000), 16000)
    samples = audio.samples.copy()
    samples[:, 8000:9600] = 0.0
    damaged = audio.with_samples(samples)
    out = get_method("tplcnet")(damaged, [Region(8000, 9600)])
    keep = np.ones(audio.n_frames, bool)
    keep[8000 - 160 : 9600 + 160] = False
    np.testing.assert_array_equal(out.samples[:, keep], damaged.samples[:, keep])
    assert np.any(out.samples[:, 8000:9600] != 0)
    assert "tplcnet" in PEERS and get_method("lsar").name == "lsar"
