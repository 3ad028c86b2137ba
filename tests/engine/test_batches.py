"""Worker-made training batches: the same batches whatever the number of workers, in step order,
and a run trained with workers resumes on the batches it would have drawn."""

import json

import numpy as np
import pytest
import torch

from voicemend.engine.training.batches import CropBatches, batch_source, step_rng, worker_batches
from voicemend.engine.training.data import AugmentConfig, SpeechPool, random_batch
from voicemend.engine.training.ift import GapConfig, GapMasks, gap_masks

from ..conftest import speech_like


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    import soundfile as sf

    from voicemend.engine.data import list_speech

    folder = tmp_path_factory.mktemp("speech")
    for i in range(3):
        sf.write(str(folder / f"{i}.wav"), speech_like(1.5, 16000, seed=i), 16000)
    return SpeechPool(list_speech(folder, split=None))


def make_batches(pool):
    masks = GapMasks(16000, GapConfig(max_gap_ms=100.0))
    return CropBatches(pool, 8000, 3, AugmentConfig(), masks)


def test_crop_batches_draw_what_the_recipe_drew_from_one_generator(pool):
    """No workers: crops, augmentation, then masks, all from the run's generator, in the order
    the shipped models were trained with."""
    make = make_batches(pool)
    waves, masks = make(np.random.default_rng(7))
    rng = np.random.default_rng(7)
    expected = random_batch(pool, 8000, 3, rng, AugmentConfig())
    np.testing.assert_array_equal(waves, expected)
    np.testing.assert_array_equal(masks, gap_masks(3, 8000, 16000, GapConfig(max_gap_ms=100), rng))
    assert masks.any(axis=1).all()


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_make_each_step_from_its_own_generator_in_order(pool, workers):
    make = make_batches(pool)
    stream = worker_batches(make, seed=3, first_step=5, workers=workers)
    got = [next(stream) for _ in range(4)]
    for step, (waves, masks) in zip(range(5, 9), got, strict=True):
        want_waves, want_masks = make(step_rng(3, step))
        assert torch.equal(waves, torch.from_numpy(want_waves))
        assert torch.equal(masks, torch.from_numpy(want_masks))
    assert not torch.equal(got[0][0], got[1][0])  # each step its own crops


def test_batch_source_without_workers_advances_the_run_generator(pool):
    make = make_batches(pool)
    rng = np.random.default_rng(0)
    source = batch_source(make, rng, seed=0, first_step=0, workers=0)
    first, second = source(), source()
    assert not torch.equal(first[0], second[0])
    replay = np.random.default_rng(0)
    make(replay)
    assert torch.equal(second[0], torch.from_numpy(make(replay)[0]))


def test_worker_batches_refuse_no_workers(pool):
    with pytest.raises(ValueError, match="at least 1"):
        worker_batches(make_batches(pool), 0, 0, workers=0)


def test_mel_training_with_workers_resumes_on_the_batches_it_would_have_drawn(tmp_path):
    """Three steps in one go and two-then-one (resumed) end on the same weights: step 3's batch
    depends on the step, not on what the process drew before."""
    import soundfile as sf

    from voicemend.engine.models.mel_transformer import MelTransformer
    from voicemend.engine.training.mel import MelTrainConfig, train_mel

    from .test_mel_transformer import TINY

    data = tmp_path / "data"
    data.mkdir()
    sf.write(str(data / "a.wav"), speech_like(2.5, 16000), 16000)

    def config(steps):
        return MelTrainConfig(
            window_s=1.0,
            batch_size=2,
            max_steps=steps,
            log_every=1,
            max_gap_ms=200,
            data_workers=2,
            warmup_steps=0,
        )

    torch.manual_seed(0)
    straight = train_mel(tmp_path / "straight", config(3), data_root=data, model_config=TINY)
    torch.manual_seed(0)
    train_mel(tmp_path / "resumed", config(2), data_root=data, model_config=TINY)
    resumed = train_mel(tmp_path / "resumed", config(3), data_root=data, model_config=TINY)
    a = MelTransformer.from_pretrained(straight).state_dict()
    b = MelTransformer.from_pretrained(resumed).state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    rows = [json.loads(r) for r in (tmp_path / "resumed" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
