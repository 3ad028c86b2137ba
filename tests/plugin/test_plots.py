"""Detection plots: every span drawn, one collection per kind however many there are."""

import numpy as np

from voicemend.engine import Audio, Region
from voicemend.engine.detect import Detection, DropoutKind
from voicemend.plugin import plots


def test_thousands_of_detections_are_one_collection_per_kind(tmp_path, monkeypatch):
    figures = []
    save = plots.save_figure

    def keep(fig, path):
        figures.append(fig)
        return save(fig, path)

    monkeypatch.setattr(plots, "save_figure", keep)
    sr = 16000
    audio = Audio.from_array(np.sin(np.arange(sr * 60) * 0.05).astype(np.float32), sr)
    clipped = [
        Detection(Region(int(a), int(a) + 1), DropoutKind.CLIPPING, 0.55)
        for a in np.linspace(0, sr * 59, 3000)
    ]
    dropout = Detection(Region(sr * 30, sr * 30 + 3200), DropoutKind.DIGITAL_SILENCE, 1.0)
    out = plots.plot_detections(audio, [*clipped, dropout], tmp_path / "d.png")
    assert out.stat().st_size > 0
    (ax,) = figures[0].axes
    spans = {
        c.get_label(): c for c in ax.collections if c.get_label() in ("clipping", "digital_silence")
    }
    assert len(spans["clipping"].get_paths()) == 3000
    assert len(spans["digital_silence"].get_paths()) == 1
    x0, x1 = spans["digital_silence"].get_paths()[0].get_extents().intervalx
    assert (x0, x1) == (30.0, 30.2)
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == [
        "clipping",
        "digital_silence",
    ]
