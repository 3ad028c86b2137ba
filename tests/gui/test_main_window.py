"""pytest-qt drives the real window offscreen: no audio device, sandboxed settings and cache."""

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("pytestqt")

from PyQt6.QtCore import QMimeData, QPointF, Qt, QUrl
from PyQt6.QtGui import QDropEvent

from voicemend.gui.export_dialog import ExportChoice

from ..conftest import speech_like

WAIT_MS = 20000


@pytest.fixture
def wav(tmp_path):
    x = speech_like(3.0, 16000)
    x[16000:17600] = 0.0
    x[32000:33000] = 0.0
    path = tmp_path / "talk.wav"
    sf.write(str(path), x, 16000, subtype="PCM_16")
    return path


def _idle(window, qtbot):
    qtbot.waitUntil(lambda: window.job is None, timeout=WAIT_MS)


def _repair(window, qtbot, start_s, end_s, method="lsar"):
    n = len(window.document.patches)
    window.waveform.select(start_s, end_s)
    window.method.setCurrentText(method)
    window.repair_selection()
    qtbot.waitUntil(
        lambda: window.job is None and len(window.document.patches) == n + 1, timeout=WAIT_MS
    )


def test_open_select_repair_undo_redo(window, qtbot, wav):
    assert window.open_file(wav)
    window.waveform.select(1.0, 1.1)
    assert "100.0 ms" in window.selection_label.text()
    _repair(window, qtbot, 1.0, 1.1)
    assert np.any(window.document.edited(16000, 17600) != 0)
    assert window.windowTitle().startswith("talk.wav *")
    assert window.last_repair_s is not None and window.last_repair_s > 0
    assert window.history.model().rowCount() == 2  # "opened file" + the repair
    window.undo_action.trigger()
    assert window.document.patches == []
    window.redo_action.trigger()
    assert len(window.document.patches) == 1


def test_detect_and_repair_all_then_export(window, qtbot, wav, tmp_path):
    window.open_file(wav)
    window.detect()
    qtbot.waitUntil(
        lambda: window.job is None and window.dropouts.table.rowCount() == 2, timeout=WAIT_MS
    )
    assert len(window.waveform.overlays) == 2  # detections drawn
    window.jump_to_detection(0)
    assert window.waveform.selected() == pytest.approx((1.0, 1.1), abs=1e-3)
    window.repair_all()
    qtbot.waitUntil(
        lambda: window.job is None and len(window.document.patches) == 2, timeout=WAIT_MS
    )
    assert window.undo_stack.count() == 1  # repairing all is one undoable step
    out = tmp_path / "fixed.wav"
    window.export_to(out)
    _idle(window, qtbot)
    y, _ = sf.read(str(out))
    assert np.any(y[16000:17600] != 0) and np.any(y[32000:33000] != 0)
    assert window.undo_stack.isClean()  # exported: nothing left to lose
    window.export_to(out)  # exists: refused without confirmation
    assert "exists" in window.last_error


def test_export_through_the_chain_in_another_sample_type(window, qtbot, wav, tmp_path):
    window.open_file(wav)
    window.chain_panel.add_stage("Gain")
    window.chain_panel.set_param(0, "gain_db", -20.0)
    out = tmp_path / "quiet.flac"
    window.export(ExportChoice(out, "PCM_24", True))
    _idle(window, qtbot)
    assert sf.info(str(out)).subtype == "PCM_24"
    y, _ = sf.read(str(out))
    x, _ = sf.read(str(wav))
    assert np.abs(y).max() == pytest.approx(np.abs(x).max() / 10, rel=0.05)


def test_saving_over_the_source_needs_confirmation(window, qtbot, wav, monkeypatch):
    from voicemend.gui import main_window

    window.open_file(wav)
    _repair(window, qtbot, 1.0, 1.1)

    class Dialog:
        def __init__(self, *a, **k):
            pass

        def exec(self):
            return main_window.QDialog.DialogCode.Accepted

        def choice(self):
            return ExportChoice(wav, "PCM_16", False)

    monkeypatch.setattr(main_window, "ExportDialog", Dialog)
    before = wav.read_bytes()
    window.answers.replies = ["Cancel"]
    window.export_dialog()
    assert "original recording" in window.answers.questions[-1]
    assert wav.read_bytes() == before
    window.answers.replies = ["Replace"]
    window.export_dialog()
    _idle(window, qtbot)
    y, _ = sf.read(str(wav))
    assert np.any(y[16000:17600] != 0)


def test_bad_file_shows_an_error_and_keeps_the_session(window, wav, tmp_path):
    window.open_file(wav)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"nonsense" * 10)
    assert not window.open_file(bad)
    assert "cannot read" in window.last_error
    assert window.document.path == wav


def test_repair_selection_snaps_to_the_dropout_unless_switched_off(window, qtbot, wav):
    assert window.open_file(wav)
    assert window.snap_action.isChecked()
    _repair(window, qtbot, 1.003, 1.098)
    assert window.document.patches[-1].region == (16000, 17600)
    assert window.waveform.selected() == pytest.approx((1.0, 1.1))
    assert "snapped to the dropout's edges: +3.0 ms before, +2.0 ms after" in (
        window.statusBar().currentMessage()
    )
    window.snap_action.trigger()  # off, and remembered
    assert window.settings.value("snap", type=bool) is False
    _repair(window, qtbot, 2.003, 2.05)
    assert window.document.patches[-1].region == (32048, 32800)


def test_a_broken_project_file_is_refused_with_a_reason(window, tmp_path):
    bad = tmp_path / "broken.voicemend"
    bad.write_text("{not json")
    assert not window.open_file(bad)
    assert "cannot read project" in window.last_error
    bad.write_text('{"format": "something-else"}')
    assert not window.open_file(bad)
    assert "not a voicemend project" in window.last_error


def test_repair_without_selection_explains(window, wav):
    window.open_file(wav)
    window.repair_selection()
    assert "select a region" in window.last_error


def test_no_audio_device_play_says_unavailable(window, wav):
    window.open_file(wav)
    assert "playback unavailable" in window.playback_label.text()
    window.play_action.trigger()  # Space
    window.waveform.select(1.0, 1.5)
    window.play_selection()
    assert not window.player.playing
    cursor = window.player.cursor
    assert (cursor.start, cursor.end) == (16000, 24000)  # what would have played


def test_ab_switches_view_and_playback_source(window, qtbot, wav):
    window.open_file(wav)
    _repair(window, qtbot, 1.0, 1.1)
    window.zoom_to_selection()
    window.waveform.select(1.0, 1.1)
    window.play_selection()
    out = np.empty((1600, 1), np.float32)
    window.player.cursor.fill(out)
    assert np.any(out != 0)  # repaired audio
    window.ab_action.trigger()
    window.player.cursor.seek(16000)
    window.player.cursor.fill(out)
    assert np.all(out == 0)  # the original dropout
    assert window.waveform.show_original and window.spectrogram.show_original
    window.ab_action.trigger()
    assert not window.waveform.show_original


def test_spectrogram_is_computed_in_the_background(window, qtbot, wav):
    window.show()
    window.open_file(wav)
    qtbot.waitUntil(lambda: window.spectrogram.last is not None, timeout=WAIT_MS)
    assert window.spectrogram.last.sample_rate == 16000
    window.spectrogram_action.trigger()
    assert not window.spectrogram.isVisible()


def test_chain_preview_renders_the_selection(window, qtbot, wav):
    window.open_file(wav)
    window.chain_panel.add_stage("Gain")
    window.waveform.select(0.5, 1.0)
    window.chain_panel.preview_button.click()
    qtbot.waitUntil(lambda: window.preview is not None, timeout=WAIT_MS)
    assert window.preview.shape == (1, 8000)


def test_autosave_recovery_after_a_crash(make_window, qtbot, wav):
    first = make_window()
    first.open_file(wav)
    assert first.autosave() is None  # nothing unsaved yet
    _repair(first, qtbot, 1.0, 1.1)
    recovery = first.autosave()
    assert recovery is not None and recovery.exists()
    # "crash": a new window opens the same file; the edits are offered back
    second = make_window()
    second.answers.replies = ["Restore"]
    assert second.open_file(wav)
    assert "unsaved edits" in second.answers.questions[0]
    assert len(second.document.patches) == 1 and not second.undo_stack.isClean()
    np.testing.assert_allclose(
        second.document.edited(16000, 17600), first.document.edited(16000, 17600), atol=2e-7
    )
    _repair(second, qtbot, 2.0, 2.05)
    assert len({p.id for p in second.document.patches}) == 2  # ids do not collide
    third = make_window()
    third.answers.replies = ["Discard"]
    third.open_file(wav)
    assert third.document.patches == [] and not recovery.exists()
    for w in (first, second):
        w.undo_stack.setClean()


def test_unsaved_changes_prompt_on_close(window, qtbot, wav, tmp_path):
    window.open_file(wav)
    _repair(window, qtbot, 1.0, 1.1)
    window.answers.replies = ["Cancel"]
    assert not window.close()
    assert "unsaved edits" in window.answers.questions[-1]
    window.project_path = tmp_path / "talk.voicemend"
    window.answers.replies = ["Save project"]
    assert window.close()
    assert (tmp_path / "talk.voicemend").exists()


def test_project_save_and_reopen(window, qtbot, wav, tmp_path, make_window):
    window.open_file(wav)
    _repair(window, qtbot, 1.0, 1.1)
    assert window.save_project_to(tmp_path / "s.voicemend")
    assert window.undo_stack.isClean()
    other = make_window()
    assert other.open_file(tmp_path / "s.voicemend")
    assert len(other.document.patches) == 1 and other.undo_stack.isClean()
    assert str((tmp_path / "s.voicemend").resolve()) in other.recent_files()


def test_drag_and_drop_and_recent_files(window, wav):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(wav))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    assert window.document is not None and window.document.path == wav
    assert window.recent_files()[0] == str(wav.resolve())
    assert window.recent_menu.actions()[0].text() == str(wav.resolve())


def test_zoom_keys_theme_and_about(window, wav):
    window.open_file(wav)
    (a0, b0), _ = window.waveform.getViewBox().viewRange()
    window.zoom_in()
    (a1, b1), _ = window.waveform.getViewBox().viewRange()
    assert (b1 - a1) < (b0 - a0)
    window.set_dark(True)
    assert window.settings.value("dark", type=bool)
    window.set_dark(False)
    window.about()
    assert "voicemend" in window.about_box.text()


def test_a_long_file_draws_few_points(window, tmp_path):
    path = tmp_path / "long.wav"
    rng = np.random.default_rng(0)
    sf.write(str(path), 0.1 * rng.standard_normal((16000 * 600, 2)), 16000, subtype="PCM_16")
    window.open_file(path)  # `voicemend bench editor` times this for an hour of audio
    assert 0 < window.waveform.trace_points() <= 2 * 2000


@pytest.mark.parametrize(
    ("suffix", "fmt", "subtype"), [(".ogg", "OGG", "VORBIS"), (".mp3", "MP3", "MPEG_LAYER_III")]
)
def test_opens_ogg_and_mp3(window, tmp_path, suffix, fmt, subtype):
    path = tmp_path / f"talk{suffix}"
    sf.write(str(path), speech_like(2.0, 16000), 16000, format=fmt, subtype=subtype)
    assert window.open_file(path)
    assert window.document.sample_rate == 16000 and window.document.duration_s > 1.9


def test_an_mp3_is_offered_back_as_mp3_and_exported_so(window, qtbot, tmp_path, monkeypatch):
    """The Export dialog opens on NAME.fixed.mp3 for an MP3, with the re-coding said; what it
    returns is written as MP3."""
    from voicemend.gui import export_dialog

    path = tmp_path / "talk.mp3"
    sf.write(str(path), speech_like(2.0, 16000), 16000, format="MP3")
    window.open_file(path)
    shown = []

    def accept_as_shown(dialog):
        shown.append((dialog.path_edit.text(), dialog.subtype.currentData(), dialog.note.text()))
        dialog.accept()
        return dialog.result()

    monkeypatch.setattr(export_dialog.ExportDialog, "exec", accept_as_shown)
    window.export_dialog()
    _idle(window, qtbot)
    name, subtype, note = shown[0]
    assert name == str(tmp_path / "talk.fixed.mp3") and subtype == "MPEG_LAYER_III"
    assert "coded again" in note
    assert sf.info(name).format == "MP3" and sf.info(name).frames > 0


def test_cancel_stops_a_long_repair_and_keeps_the_document(window, qtbot, wav):
    from voicemend.engine.regions import Region

    window.open_file(wav)
    window.method.setCurrentText("lsar")
    regions = [Region(s, s + 1600) for s in range(1000, 40000, 2000)]
    window.repair_regions(regions)
    window.job.cancel()
    _idle(window, qtbot)
    assert len(window.document.patches) < len(regions)  # stopped early, nothing half-applied
    assert window.undo_stack.count() <= 1


def test_a_failed_export_shows_the_error_and_loses_nothing(window, qtbot, wav, tmp_path):
    window.open_file(wav)
    _repair(window, qtbot, 1.0, 1.1)
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("a file where a folder should be")
    window.export_to(not_a_folder / "out.wav")  # fails for every user, root included
    _idle(window, qtbot)
    assert "cannot write" in window.last_error
    assert len(window.document.patches) == 1 and not window.undo_stack.isClean()
    assert window.autosave() is not None  # the edits are still there to save


def test_method_box_offers_every_installed_method_with_auto_first(window):
    from voicemend.engine.inpaint import INPAINTERS

    items = [window.method.itemText(i) for i in range(window.method.count())]
    assert items[0] == "auto" and set(items) == set(INPAINTERS) - {"zero"}


def test_waveform_and_spectrogram_share_a_time_axis(window, qtbot, wav):
    """A time sits at the same x in both plots, and both axes say it in the same units."""
    window.resize(1200, 800)
    window.show()
    window.open_file(wav)
    qtbot.waitExposed(window)
    window.waveform.setXRange(0.5, 0.9, padding=0)
    qtbot.wait(50)
    columns = []
    for view in (window.waveform, window.spectrogram):
        box = view.getViewBox()
        left = box.mapViewToDevice(QPointF(0.6, 0)).x()
        right = box.mapViewToDevice(QPointF(0.8, 0)).x()
        columns.append((view.mapToGlobal(QPointF(left, 0)).x(), right - left))
    assert columns[0] == pytest.approx(columns[1], abs=1.0)
    assert [v.getAxis("bottom").labelUnits for v in (window.waveform, window.spectrogram)] == [
        "s",
        "s",
    ]


def test_dropout_columns_fit_their_contents(window, qtbot, wav):
    window.open_file(wav)
    window.detect()
    qtbot.waitUntil(
        lambda: window.job is None and window.dropouts.table.rowCount() == 2, timeout=WAIT_MS
    )
    table, header = window.dropouts.table, window.dropouts.table.horizontalHeader()
    assert table.isColumnHidden(4)  # a mono file's dropouts are in its one channel
    for col in range(table.columnCount() - 2):  # the last shown one stretches to the edge
        fit = max(table.sizeHintForColumn(col), header.sectionSizeHint(col))
        assert table.columnWidth(col) == fit


def test_repairing_and_undoing_thousands_of_clipped_runs_refreshes_the_views_once_a_step(
    window, qtbot, tmp_path, monkeypatch
):
    x = speech_like(6.0, 16000, seed=7)
    x = np.clip(3 * 0.8 * x / np.max(np.abs(x)), -0.8, 0.8).astype(np.float32)
    path = tmp_path / "clipped.wav"
    sf.write(str(path), x, 16000, subtype="FLOAT")
    assert window.open_file(path)
    window.detect()
    qtbot.waitUntil(
        lambda: window.job is None and bool(window.dropouts.detections), timeout=WAIT_MS
    )
    n = len(window.dropouts.detections)
    assert n > 300
    refreshes = []
    edited_ranges = window.waveform.edited_ranges
    monkeypatch.setattr(
        window.waveform, "edited_ranges", lambda r: (refreshes.append(len(r)), edited_ranges(r))
    )
    window.method.setCurrentText("lsar")
    window.repair_all()
    qtbot.waitUntil(
        lambda: window.job is None and len(window.document.patches) == n, timeout=WAIT_MS
    )
    assert refreshes == [n]  # one refresh for the whole step
    pyramid = window.waveform.pyramids["edited"]
    _lo, hi = pyramid.levels[0]
    assert hi.max() > 0.81  # restored peaks past the rail are in the waveform
    window.undo_action.trigger()
    assert window.document.patches == [] and refreshes == [n, n]
    np.testing.assert_allclose(pyramid.levels[0][1].max(), 0.8, atol=1e-6)  # clipped again
    window.redo_action.trigger()
    assert len(window.document.patches) == n and refreshes == [n, n, n]
    assert len(window.waveform.repair_spans) == n


def test_concealed_loss_is_sought_only_when_switched_on_and_remembered(window, qtbot, wav):
    from voicemend.engine.detect import DropoutKind

    window.open_file(wav)
    assert not window.concealed_action.isChecked()
    assert DropoutKind.CONCEALED not in window.detector().settings.kinds
    window.concealed_action.trigger()
    assert window.settings.value("concealed", type=bool) is True
    assert DropoutKind.CONCEALED in window.detector().settings.kinds
    window.detect()  # the network runs beside the level rules; the two holes are still found
    qtbot.waitUntil(
        lambda: window.job is None and window.dropouts.table.rowCount() >= 2, timeout=WAIT_MS
    )


def test_clicks_are_sought_only_when_switched_on_and_remembered(window, qtbot, tmp_path):
    from voicemend.engine.audio import Audio
    from voicemend.engine.corrupt import add_click
    from voicemend.engine.detect import DropoutKind

    voice = Audio.from_array(speech_like(2.0, 16000, seed=4), 16000)
    x = add_click(voice, 16000, np.ones(1), 29.5)[0].samples[0]  # 30x the voice's level
    path = tmp_path / "click.wav"
    sf.write(str(path), x, 16000, subtype="FLOAT")
    assert window.open_file(path)
    assert not window.clicks_action.isChecked()
    assert DropoutKind.CLICK not in window.detector().settings.kinds
    window.detect()
    qtbot.waitUntil(lambda: window.job is None, timeout=WAIT_MS)
    assert window.dropouts.table.rowCount() == 0
    window.clicks_action.trigger()
    assert window.settings.value("clicks", type=bool) is True
    window.detect()
    qtbot.waitUntil(
        lambda: window.job is None and window.dropouts.table.rowCount() == 1, timeout=WAIT_MS
    )
    [found] = window.dropouts.detections
    assert found.kind is DropoutKind.CLICK and found.region.start <= 16000 < found.region.end


def test_repair_all_leaves_the_channel_without_the_dropout_as_it_was(window, qtbot, tmp_path):
    left, right = speech_like(3.0, 48000, seed=1), speech_like(3.0, 48000, seed=2)
    right[72000:76800] = 0.0
    path = tmp_path / "call.wav"
    sf.write(str(path), np.stack([left, right], 1), 48000, subtype="FLOAT")
    assert window.open_file(path)
    window.detect()
    qtbot.waitUntil(
        lambda: window.job is None and window.dropouts.table.rowCount() == 1, timeout=WAIT_MS
    )
    assert window.dropouts.detections[0].channels == (1,)
    assert not window.dropouts.table.isColumnHidden(4)
    assert window.dropouts.table.item(0, 4).text() == "R"  # the list says where
    window.repair_all()
    qtbot.waitUntil(
        lambda: window.job is None and len(window.document.patches) == 1, timeout=WAIT_MS
    )
    edited = window.document.edited(0, window.document.n_frames)
    np.testing.assert_array_equal(edited[0], left.astype(np.float32))
    assert np.sqrt(np.mean(edited[1, 72000:76800] ** 2)) > 0.01


def test_nan_samples_open_as_silence_listed_to_repair(window, qtbot, tmp_path):
    """A float file with NaN/Inf samples opens (they read as silence), lists them under
    Detected dropouts, and Repair all fills them; Detect lists only those left."""
    x = speech_like(3.0, 16000)
    x[16000:16160] = np.nan
    x[40000] = np.inf
    path = tmp_path / "nan.wav"
    sf.write(str(path), x, 16000, subtype="FLOAT")
    assert window.open_file(path)
    assert window.document.nonfinite.n_samples == 161
    assert np.isfinite(window.document.original(0, 48000)).all()
    assert window.dropouts.table.rowCount() == 2
    assert {d.kind.value for d in window.dropouts.detections} == {"non_finite"}
    assert "NaN/Inf" in window.statusBar().currentMessage()
    window.repair_all()
    qtbot.waitUntil(
        lambda: window.job is None and len(window.document.patches) == 2, timeout=WAIT_MS
    )
    assert np.sqrt(np.mean(window.document.edited(16000, 16160) ** 2)) > 0.01  # filled
    assert window.document.nonfinite_left() == []
    window.detect()
    _idle(window, qtbot)
    assert all(d.kind.value != "non_finite" for d in window.dropouts.detections)
    out = tmp_path / "fixed.wav"
    window.export_to(out)
    _idle(window, qtbot)
    assert np.isfinite(sf.read(str(out))[0]).all()


def test_an_8_bit_recording_reads_no_dropouts_before_or_after_a_repair(window, qtbot, tmp_path):
    """Quiet 8-bit speech falls to zero for milliseconds; the detector reads the grid from the
    samples, so it still does once a repair put float samples into the document."""
    x = speech_like(3.0, 16000, seed=4)
    dip = np.sin(np.linspace(0.0, np.pi, 16000)) ** 2
    x[16000:32000] *= (1.0 - 0.99 * dip) ** 2  # trailing off to -80 dB and back
    path = tmp_path / "old.wav"
    sf.write(str(path), x, 16000, subtype="PCM_U8")
    assert window.open_file(path)
    window.detect()
    _idle(window, qtbot)
    assert window.dropouts.table.rowCount() == 0
    _repair(window, qtbot, 0.5, 0.6)
    window.detect()
    _idle(window, qtbot)
    assert window.dropouts.table.rowCount() == 0
