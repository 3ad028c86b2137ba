"""The editor's main window: views, playback, repair, dropouts, chain, history, files.

Heavy work (repair, detection, chain preview, export) runs in worker threads with progress and
Cancel; the document is only changed on the GUI thread, through the undo stack.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QSettings, Qt, QTimer
from PyQt6.QtGui import QAction, QColor, QKeySequence, QPalette, QUndoStack
from PyQt6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QSplitter,
    QToolBar,
    QUndoView,
)

from voicemend.engine.audio import Audio
from voicemend.engine.detect import (
    Detection,
    DetectorSettings,
    DropoutDetector,
    by_channels,
    clipped_regions,
    kinds_sought,
)
from voicemend.engine.detect.snap import Snap
from voicemend.engine.errors import VoicemendError
from voicemend.engine.inpaint import INPAINTERS, get_inpainter
from voicemend.engine.regions import Region, format_time_s
from voicemend.gui.chain_panel import ChainPanel
from voicemend.gui.commands import ApplyPatch
from voicemend.gui.document import Document, project_source
from voicemend.gui.dropout_list import DropoutList
from voicemend.gui.export_dialog import ExportChoice, ExportDialog, suggested_suffix
from voicemend.gui.playback import Cursor, Player
from voicemend.gui.spectrogram_view import SpectrogramView
from voicemend.gui.waveform import WaveformView
from voicemend.gui.workers import Job

AUDIO_FILTER = (
    "Audio and projects (*.wav *.flac *.ogg *.opus *.mp3 *.m4a *.aif *.aiff *.caf *.w64 *.wma "
    "*.webm *.voicemend);;All files (*)"
)
AUTOSAVE_MS = 60_000
PLAYHEAD_MS = 30
MAX_RECENT = 8


# Width of both plots' value axes, so that a time in the waveform sits above the same time in
# the spectrogram.
LEFT_AXIS_PX = 64


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, player: Player | None = None) -> None:
        super().__init__()
        self.setWindowTitle("voicemend")
        self.resize(1280, 760)
        self.setAcceptDrops(True)
        self.settings = settings or QSettings("voicemend", "editor")
        self.player = player or Player()
        self.document: Document | None = None
        self.project_path: Path | None = None
        self.undo_stack = QUndoStack(self)
        self._changed_ranges: list[tuple[int, int]] = []  # edited, views not yet refreshed
        self.undo_stack.indexChanged.connect(self._flush_changes)
        self.job: Job | None = None
        self._finished_job: Job | None = None
        self.progress: QProgressDialog | None = None
        self.last_error = ""
        self.preview: np.ndarray | None = None
        self.audacity = None  # an AudacityLink once something was fetched from Audacity
        self.last_sent_to_audacity = 0
        self.last_repair_s: float | None = None

        self.waveform = WaveformView()
        self.spectrogram = SpectrogramView()
        self.spectrogram.setXLink(self.waveform)
        for view in (self.waveform, self.spectrogram):  # the two plots' time axes line up
            view.getAxis("left").setWidth(LEFT_AXIS_PX)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.waveform)
        self.splitter.addWidget(self.spectrogram)
        self.splitter.setSizes([420, 260])
        self.setCentralWidget(self.splitter)

        self.dropouts = DropoutList()
        self.chain_panel = ChainPanel()
        self.history = QUndoView(self.undo_stack)
        self.history.setEmptyLabel("opened file")
        self.docks = {}
        for title, widget, area in (
            ("Detected dropouts", self.dropouts, Qt.DockWidgetArea.RightDockWidgetArea),
            ("Effects chain", self.chain_panel, Qt.DockWidgetArea.RightDockWidgetArea),
            ("History", self.history, Qt.DockWidgetArea.LeftDockWidgetArea),
        ):
            dock = QDockWidget(title, self)
            dock.setObjectName(title)
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
            self.docks[title] = dock
        self.tabifyDockWidget(self.docks["Detected dropouts"], self.docks["Effects chain"])
        self.resizeDocks(
            [self.docks["History"], self.docks["Detected dropouts"]],
            [180, 360],
            Qt.Orientation.Horizontal,
        )
        self.docks["Detected dropouts"].raise_()

        self.method = QComboBox()
        offered = (
            "auto",
            "lsar",
            "pattern",
            "hybrid",
            "choice",
            "exemplar",
            "neural-mel",
            "neural",
            "neural-ipt",
        )
        self.method.addItems([m for m in offered if m in INPAINTERS])
        self.selection_label = QLabel("no selection")
        self.position_label = QLabel("")
        self.playback_label = QLabel(self.player.unavailable_reason)
        self.device_label = QLabel(self._device_text())
        self.statusBar().addWidget(self.selection_label, 1)
        self.statusBar().addWidget(self.position_label)
        self.statusBar().addPermanentWidget(self.playback_label)
        self.statusBar().addPermanentWidget(self.device_label)
        self._build_actions()

        self.play_timer = QTimer(self)
        self.play_timer.setInterval(PLAYHEAD_MS)
        self.play_timer.timeout.connect(self._follow_playback)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()

        self.waveform.selectionChanged.connect(self._selection_changed)
        self.waveform.clicked.connect(self._seek)
        self.dropouts.table.cellClicked.connect(self.jump_to_detection)
        self.dropouts.repair_button.clicked.connect(self.repair_current_detection)
        self.dropouts.repair_all_button.clicked.connect(self.repair_all)
        self.dropouts.ignore_button.clicked.connect(self.ignore_current_detection)
        self.chain_panel.previewRequested.connect(self.preview_chain)
        # A bound slot (not a lambda) is disconnected by Qt when the window goes away.
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self.set_dark(self.settings.value("dark", False, type=bool))

    # --- set-up -----------------------------------------------------------------------------
    def _build_actions(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        self.open_action = self._action("&Open…", QKeySequence.StandardKey.Open, self.open_dialog)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.save_project_action = self._action(
            "&Save project", QKeySequence.StandardKey.Save, self.save_project
        )
        self.save_project_as_action = self._action(
            "Save project &as…", "Ctrl+Shift+S", self.save_project_as
        )
        self.export_action = self._action("&Export…", "Ctrl+E", self.export_dialog)
        quit_action = self._action("&Quit", QKeySequence.StandardKey.Quit, self.close)
        file_menu.insertAction(self.recent_menu.menuAction(), self.open_action)
        file_menu.addActions([self.save_project_action, self.save_project_as_action])
        file_menu.addSeparator()
        self.fetch_audacity_action = self._action(
            "Fetch selection from Audacity", None, self.fetch_from_audacity
        )
        self.send_audacity_action = self._action(
            "Send repairs to Audacity", None, self.send_to_audacity
        )
        file_menu.addActions([self.fetch_audacity_action, self.send_audacity_action])
        file_menu.addSeparator()
        file_menu.addActions([self.export_action, quit_action])
        self._fill_recent_menu()

        edit_menu = bar.addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Y"), QKeySequence("Ctrl+Shift+Z")])
        select_all = self._action(
            "Select &all", QKeySequence.StandardKey.SelectAll, self.select_all
        )
        edit_menu.addActions([self.undo_action, self.redo_action, select_all])

        play_menu = bar.addMenu("&Play")
        self.play_action = self._action("&Play / pause", "Space", self.play_pause)
        self.play_selection_action = self._action(
            "Play &selection", "Shift+Space", self.play_selection
        )
        self.stop_action = self._action("S&top", "Escape", self.stop)
        self.loop_action = self._action("&Loop", "L", None, checkable=True)
        self.ab_action = self._action("A/B: hear and see the &original", "B", None, checkable=True)
        self.ab_action.toggled.connect(self.set_show_original)
        self.loop_action.toggled.connect(self._set_loop)
        play_menu.addActions(
            [
                self.play_action,
                self.play_selection_action,
                self.stop_action,
                self.loop_action,
                self.ab_action,
            ]
        )

        repair_menu = bar.addMenu("&Repair")
        self.repair_action = self._action("Repair &selection", "Ctrl+R", self.repair_selection)
        self.detect_action = self._action("&Detect dropouts", "Ctrl+D", self.detect)
        self.repair_all_action = self._action(
            "Repair &all detected", "Ctrl+Shift+R", self.repair_all
        )
        # A selection that stops a few samples short of a dropout leaves them as context, and
        # the repair extrapolates from them; snapping grows it to the dropout's edges.
        self.snap_action = self._action(
            "S&nap selection to dropout edges", None, self._set_snap, checkable=True
        )
        self.snap_action.setChecked(self.settings.value("snap", True, type=bool))
        # A call's decoder fills lost packets itself; a network hears that, but on speech that
        # was never a call it finds one now and then, so it is asked for, not always on.
        self.concealed_action = self._action(
            "Detect &concealed packet loss (calls)", None, self._set_concealed, checkable=True
        )
        self.concealed_action.setChecked(self.settings.value("concealed", False, type=bool))
        # On clean speech the click search finds one now and then: asked for too.
        self.clicks_action = self._action("Detect c&licks", None, self._set_clicks, checkable=True)
        self.clicks_action.setChecked(self.settings.value("clicks", False, type=bool))
        repair_menu.addActions([self.repair_action, self.detect_action, self.repair_all_action])
        repair_menu.addSeparator()
        repair_menu.addActions([self.snap_action, self.concealed_action, self.clicks_action])

        view_menu = bar.addMenu("&View")
        self.spectrogram_action = self._action(
            "&Spectrogram", "S", self.spectrogram.setVisible, checkable=True
        )
        self.spectrogram_action.setChecked(True)
        self.dark_action = self._action(
            "&Dark theme", "Ctrl+Shift+D", self.set_dark, checkable=True
        )
        view_menu.addActions(
            [
                self._action("Zoom &in", QKeySequence.StandardKey.ZoomIn, self.zoom_in),
                self._action("Zoom &out", QKeySequence.StandardKey.ZoomOut, self.zoom_out),
                self._action("Zoom to &selection", "Ctrl+F", self.zoom_to_selection),
                self._action("&Whole file", "Ctrl+0", self.waveform.zoom_full),
                self.spectrogram_action,
                self.dark_action,
            ]
        )
        view_menu.addSeparator()
        for dock in self.docks.values():
            view_menu.addAction(dock.toggleViewAction())

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self._action("&About voicemend", None, self.about))

        toolbar = QToolBar("main")
        toolbar.setObjectName("main")
        toolbar.addActions(
            [self.open_action, self.play_action, self.stop_action, self.loop_action, self.ab_action]
        )
        toolbar.addSeparator()
        toolbar.addActions([self.repair_action, self.detect_action])
        toolbar.addWidget(QLabel(" method: "))
        toolbar.addWidget(self.method)
        self.addToolBar(toolbar)

    def _action(self, text: str, shortcut, slot, checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut) if isinstance(shortcut, str) else shortcut)
        action.setCheckable(checkable)
        if slot is not None:
            action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work even when the menu bar is hidden
        return action

    @staticmethod
    def _device_text() -> str:
        try:
            import torch

            if torch.cuda.is_available():
                return "GPU (CUDA)"
            if torch.backends.mps.is_available():
                return "GPU (MPS)"
        except ImportError:
            pass
        return "CPU"

    # --- questions (tests replace ``ask``) -------------------------------------------------
    def ask(self, question: str, choices: tuple[str, ...] = ("Yes", "No")) -> str:
        """Ask the user; returns the chosen button's text (the last choice if the box closes)."""
        box = QMessageBox(QMessageBox.Icon.Question, "voicemend", question, parent=self)
        buttons = [box.addButton(c, QMessageBox.ButtonRole.AcceptRole) for c in choices]
        box.exec()
        clicked = box.clickedButton()
        return choices[buttons.index(clicked)] if clicked in buttons else choices[-1]

    def show_error(self, message: str) -> None:
        """A non-blocking error dialog; nothing in the document is lost."""
        self.last_error = message
        box = QMessageBox(QMessageBox.Icon.Warning, "voicemend", message, parent=self)
        box.setModal(False)
        box.show()

    # --- files ------------------------------------------------------------------------------
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open audio", "", AUDIO_FILTER)
        if path:
            self.open_file(path)

    def open_file(self, path: str | Path) -> bool:
        """Open audio (or a ``.voicemend`` project); offers recovered edits from a crash."""
        if not self._may_discard_changes():
            return False
        p = Path(path)
        try:
            if p.suffix == ".voicemend":
                document = Document.open(project_source(p))
                recovered = document.project_patches(p)
            else:
                document = Document.open(p)
                recovered = self._recovered_patches(document)
        except VoicemendError as exc:
            self.show_error(str(exc))
            return False
        self.stop()
        self.document = document
        self.project_path = p if p.suffix == ".voicemend" else None
        self.undo_stack.clear()
        self.waveform.set_document(document)
        self.spectrogram.set_document(document)
        self.dropouts.set_detections([], document.sample_rate)
        if recovered:
            self._push_patches(recovered, "restore saved edits")
            if self.project_path is not None:
                self.undo_stack.setClean()
        if document.nonfinite.runs:
            # not a number: read as silence, listed to repair (engine.nonfinite)
            fillable = document.nonfinite_left()
            self._detections_done(fillable)
            left = document.nonfinite.too_long(document.sample_rate)
            message = f"{document.nonfinite.describe(document.sample_rate)}: read as silence"
            if left:
                message += f", {len(left)} run(s) too long to fill left so"
            if fillable:
                message += "; listed under Detected dropouts to repair"
            self.statusBar().showMessage(message, 15000)
        self._refresh_overlays()
        self._update_title()
        self._remember_recent(p)
        return True

    def _recovered_patches(self, document: Document) -> list:
        recovery = document.recovery_path()
        if not recovery.exists():
            return []
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(recovery.stat().st_mtime))
        answer = self.ask(
            f"voicemend closed with unsaved edits of {document.path.name} (autosaved {when}). "
            "Restore them?",
            ("Restore", "Discard"),
        )
        if answer != "Restore":
            recovery.unlink(missing_ok=True)
            return []
        try:
            return document.project_patches(recovery)
        except VoicemendError as exc:
            self.show_error(f"the recovery file could not be read: {exc}")
            return []

    def autosave(self) -> Path | None:
        """Write unsaved edits to the recovery file (every minute); nothing if all is saved."""
        doc = self.document
        if doc is None or self.undo_stack.isClean():
            return None
        try:
            return doc.save_project(doc.recovery_path(), mark_clean=False)
        except (VoicemendError, OSError) as exc:
            self.statusBar().showMessage(f"autosave failed: {exc}", 10000)
            return None

    def _drop_recovery(self) -> None:
        if self.document is not None:
            self.document.recovery_path().unlink(missing_ok=True)

    def save_project(self) -> bool:
        if self.document is None:
            return False
        if self.project_path is None:
            return self.save_project_as()
        return self.save_project_to(self.project_path)

    def save_project_as(self) -> bool:
        if self.document is None:
            return False
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Save project",
            str(self.document.path.with_suffix(".voicemend")),
            "voicemend project (*.voicemend)",
        )
        return bool(path) and self.save_project_to(Path(path))

    def save_project_to(self, path: Path) -> bool:
        if self.document is None:
            return False
        try:
            self.document.save_project(path)
        except (VoicemendError, OSError) as exc:
            self.show_error(str(exc))
            return False
        self.project_path = Path(path)
        self.undo_stack.setClean()
        self._drop_recovery()
        self._remember_recent(self.project_path)
        self.statusBar().showMessage(f"saved {path}", 5000)
        return True

    def export_dialog(self) -> None:
        if self.document is None:
            return
        doc = self.document
        source = doc.source_format
        dialog = ExportDialog(
            doc.path.with_suffix(".fixed" + suggested_suffix(source)),
            source,
            doc.sample_rate,
            doc.n_channels,
            len(self.chain_panel.stages),
            self,
        )
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        choice = dialog.choice()
        overwrite = False
        if choice.path.exists():
            same = choice.path.resolve() == self.document.path.resolve()
            question = (
                f"This replaces the original recording {choice.path.name}. Continue?"
                if same
                else f"Replace {choice.path}?"
            )
            if self.ask(question, ("Replace", "Cancel")) != "Replace":
                return
            overwrite = True
        self.export(choice, overwrite=overwrite)

    def export(self, choice: ExportChoice, overwrite: bool = False) -> None:
        """Export in a worker (progress, Cancel); errors show a dialog and lose nothing."""
        document = self.document
        if document is None or self.job is not None:
            return
        if choice.path.exists() and not overwrite:
            self.show_error(f"{choice.path} exists; confirm to replace it")
            return
        process = None
        if choice.through_chain:
            try:
                chain = self.chain_panel.chain()
            except VoicemendError as exc:
                self.show_error(str(exc))
                return
            process = chain  # callable; a long document runs through it block by block

        def work(progress, should_cancel):
            return document.export(
                choice.path,
                subtype=choice.subtype or None,
                overwrite=overwrite,
                progress=progress,
                process=process,
                should_cancel=should_cancel,
            )

        self._run(work, f"Exporting {choice.path.name}…", self._exported)

    def export_to(self, path: str | Path, overwrite: bool = False) -> None:
        """Export without the dialog, in the source's sample type, without the chain."""
        self.export(ExportChoice(Path(path), "", False), overwrite=overwrite)

    def _exported(self, path: Path) -> None:
        self.undo_stack.setClean()
        self._drop_recovery()
        self.statusBar().showMessage(f"exported {path}", 5000)

    def _remember_recent(self, path: Path) -> None:
        recent = [str(path.resolve()), *self.recent_files()]
        unique = list(dict.fromkeys(recent))[:MAX_RECENT]
        self.settings.setValue("recent", unique)
        self._fill_recent_menu()

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _c=False, p=path: self.open_file(p))
        self.recent_menu.setEnabled(bool(self.recent_files()))

    def dragEnterEvent(self, event) -> None:
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.open_file(files[0])

    def _may_discard_changes(self) -> bool:
        """Ask before unsaved edits are dropped; False keeps everything as it is."""
        if self.document is None or self.undo_stack.isClean():
            return True
        answer = self.ask(
            f"{self.document.path.name} has unsaved edits.",
            ("Save project", "Discard", "Cancel"),
        )
        if answer == "Save project":
            return self.save_project()
        if answer == "Discard":
            self._drop_recovery()
            return True
        return False

    def closeEvent(self, event) -> None:
        if self.job is not None:
            self.job.cancel()
            self.job.thread.wait(5000)
        if self._may_discard_changes():
            self.stop()
            event.accept()
        else:
            event.ignore()

    # --- Audacity -----------------------------------------------------------------------------
    def fetch_from_audacity(self) -> None:
        """Open Audacity's current selection (in a worker: Audacity may take a moment)."""
        if self.job is not None or not self._may_discard_changes():
            return
        from voicemend.gui.audacity_link import AudacityLink

        self.audacity = self.audacity or AudacityLink()
        link = self.audacity

        def work(progress, should_cancel):
            return link.fetch()

        def done(origin) -> None:
            self.undo_stack.setClean()  # the question was asked above
            if self.open_file(origin.path):
                self.statusBar().showMessage(
                    f"fetched {origin.track.name!r} from {origin.start_s:.3f} s in Audacity", 5000
                )

        self._run(work, "Fetching from Audacity…", done)

    def send_to_audacity(self) -> None:
        document, link = self.document, self.audacity
        if document is None or self.job is not None:
            return
        if link is None:
            self.show_error("this file did not come from Audacity: use Fetch first")
            return

        def work(progress, should_cancel):
            return link.send(document)

        def done(count: int) -> None:
            self.statusBar().showMessage(
                f"sent {count} repair(s) to Audacity (Edit › Undo there takes each back)", 5000
            )
            self.last_sent_to_audacity = count

        self._run(work, "Sending to Audacity…", done)

    # --- playback ---------------------------------------------------------------------------
    def _reader(self):
        assert self.document is not None
        return self.document.original if self.ab_action.isChecked() else self.document.edited

    def play_pause(self) -> None:
        if self.player.playing:
            self.player.stop()
            self.play_timer.stop()
            return
        doc = self.document
        if doc is None:
            return
        start = round(self.waveform.playhead.value() * doc.sample_rate)
        if start >= doc.n_frames - 1:
            start = 0
        self._play(Cursor(self._reader(), start, doc.n_frames, loop=self.loop_action.isChecked()))

    def play_selection(self) -> None:
        region = self.selected_region()
        if region is None:
            self.play_pause()
            return
        self._play(
            Cursor(self._reader(), region.start, region.end, loop=self.loop_action.isChecked())
        )

    def _play(self, cursor: Cursor, sample_rate: int | None = None, channels: int | None = None):
        doc = self.document
        if doc is None:
            return
        started = self.player.play(
            cursor, sample_rate or doc.sample_rate, channels or doc.n_channels
        )
        self.playback_label.setText(self.player.unavailable_reason if not started else "")
        if started:
            self.play_timer.start()
        else:
            self.statusBar().showMessage(self.player.unavailable_reason, 5000)

    def stop(self) -> None:
        cursor = self.player.cursor
        self.player.stop()
        self.play_timer.stop()
        if cursor is not None and self.document is not None and cursor.read != self._preview_read:
            self.waveform.set_playhead(cursor.start / self.document.sample_rate)

    def _set_loop(self, loop: bool) -> None:
        if self.player.cursor is not None:
            self.player.cursor.loop = loop

    def _seek(self, seconds: float) -> None:
        self.waveform.set_playhead(seconds)
        if self.player.playing and self.document is not None and self.player.cursor is not None:
            self.player.cursor.seek(round(seconds * self.document.sample_rate))

    def _follow_playback(self) -> None:
        cursor, doc = self.player.cursor, self.document
        if cursor is None or doc is None:
            return
        if cursor.read != self._preview_read:
            seconds = cursor.position / doc.sample_rate
            self.waveform.set_playhead(seconds)
            self.position_label.setText(format_time_s(seconds))
        if not self.player.playing:
            self.play_timer.stop()

    def set_show_original(self, original: bool) -> None:
        """A/B: the views and the playing audio switch between original and repaired."""
        self.waveform.set_show_original(original)
        self.spectrogram.set_show_original(original)
        cursor = self.player.cursor
        if cursor is not None and self.document is not None and cursor.read != self._preview_read:
            cursor.read = self._reader()
        self.statusBar().showMessage(
            "showing the original (B)" if original else "showing the repaired audio (A)", 3000
        )

    def _preview_read(self, start: int, end: int) -> np.ndarray:
        assert self.preview is not None
        return self.preview[:, start:end]

    # --- repair -----------------------------------------------------------------------------
    def selected_region(self) -> Region | None:
        if self.document is None:
            return None
        start_s, end_s = self.waveform.selected()
        if end_s - start_s <= 0:
            return None
        sr = self.document.sample_rate
        start = max(0, round(start_s * sr))
        end = min(self.document.n_frames, round(end_s * sr))
        return Region(start, end) if end > start else None

    def select_all(self) -> None:
        if self.document is not None:
            self.waveform.select(0.0, self.document.duration_s)

    def repair_selection(self) -> None:
        region = self.selected_region()
        if region is None:
            self.show_error("select a region to repair first (drag on the waveform)")
            return
        self.repair_regions([region], snap=self.snap_action.isChecked())

    def _set_snap(self, on: bool) -> None:
        self.settings.setValue("snap", on)

    def _set_concealed(self, on: bool) -> None:
        self.settings.setValue("concealed", on)

    def _set_clicks(self, on: bool) -> None:
        self.settings.setValue("clicks", on)

    def detector(self) -> DropoutDetector:
        """The detector Detect runs: the default kinds, and concealed loss and clicks when asked
        for."""
        kinds = kinds_sought(self.concealed_action.isChecked(), self.clicks_action.isChecked())
        return DropoutDetector(DetectorSettings(kinds=kinds))

    def repair_regions(
        self,
        regions: list[Region],
        clipped: Sequence[Region] = (),
        snap: bool = False,
        partial: Sequence[tuple[Region, tuple[int, ...]]] = (),
    ) -> None:
        """Repair ``regions`` in a worker; those also in ``clipped`` (clipped runs the detector
        found) keep their fills beyond the rail. With ``snap`` (hand-made selections), a region
        that cuts into a dropout grows to its edges first, and the selection shows where."""
        document = self.document
        if document is None or self.job is not None:
            return
        method = self.method.currentText()
        started = time.perf_counter()

        snaps: list[Snap] = []

        def work(progress, should_cancel):
            inpainter = get_inpainter(method)
            todo = list(regions)
            if snap:
                snaps.extend(document.snap(region) for region in regions)
                todo = [s.snapped for s in snaps]
            return document.make_patches(
                todo, inpainter, clipped, progress, should_cancel, partial=partial
            )

        def done(patches) -> None:
            self.last_repair_s = time.perf_counter() - started
            self._push_patches(patches, f"repair {len(patches)} region(s)")
            message = f"repaired {len(patches)} region(s) in {self.last_repair_s:.2f} s"
            moved = [s for s in snaps if s.moved]
            if moved:
                sr = document.sample_rate
                self.waveform.select(*moved[-1].snapped.seconds(sr))
                message += f"; snapped to the dropout's edges: {moved[-1].describe(sr)}"
            self.statusBar().showMessage(message, 8000)

        self._run(work, "Repairing…", done)

    def _push_patches(self, patches, label: str) -> None:
        if self.document is None or not patches:
            return
        self.undo_stack.beginMacro(label)
        for patch in patches:
            self.undo_stack.push(ApplyPatch(self.document, patch, self._document_changed))
        self.undo_stack.endMacro()
        self._flush_changes()

    def detect(self) -> None:
        document = self.document
        if document is None or self.job is not None:
            return

        detector = self.detector()
        known = document.nonfinite_left()

        def work(progress, should_cancel):
            audio = Audio(document.edited(0, document.n_frames), document.sample_rate)
            return detector(audio, progress=progress, known=known)

        self._run(work, "Detecting dropouts…", self._detections_done)

    def _detections_done(self, detections) -> None:
        if self.document is not None:
            self.dropouts.set_detections(
                detections, self.document.sample_rate, self.document.n_channels
            )
            self.docks["Detected dropouts"].raise_()
            self._refresh_overlays()
            self.statusBar().showMessage(f"{len(detections)} dropout(s) found", 5000)

    def jump_to_detection(self, row: int, _col: int = 0) -> None:
        if self.document is None or row >= len(self.dropouts.detections):
            return
        start_s, end_s = self.dropouts.detections[row].seconds(self.document.sample_rate)
        self.waveform.select(start_s, end_s)
        self.waveform.zoom_to(start_s, end_s)
        self.waveform.set_playhead(max(0.0, start_s - 1.0))

    def repair_current_detection(self) -> None:
        row = self.dropouts.current()
        if row is not None:
            found = self.dropouts.remove_row(row)
            self._repair_detections([found])

    def ignore_current_detection(self) -> None:
        row = self.dropouts.current()
        if row is not None:
            self.dropouts.remove_row(row)
            self._refresh_overlays()

    def repair_all(self) -> None:
        found = list(self.dropouts.detections)
        if found:
            self.dropouts.set_detections([], self.document.sample_rate if self.document else 1)
            self._repair_detections(found)

    def _repair_detections(self, found: Sequence[Detection]) -> None:
        """Repair detections, each in the channels it was found in (one side of a call)."""
        if self.document is None:
            return
        whole, partial = by_channels(found, self.document.n_channels)
        self.repair_regions(whole, clipped_regions(found), partial=partial)

    # --- effects chain ----------------------------------------------------------------------
    def preview_chain(self) -> None:
        """Render the chain over the selection (or the view) and play it."""
        document = self.document
        if document is None or self.job is not None:
            return
        try:
            chain = self.chain_panel.chain()
        except VoicemendError as exc:
            self.show_error(str(exc))
            return
        region = self.selected_region()
        if region is None:
            (x0, x1), _ = self.waveform.getViewBox().viewRange()
            sr = document.sample_rate
            region = Region(max(0, int(x0 * sr)), min(document.n_frames, int(x1 * sr)))

        def work(progress, should_cancel):
            return np.atleast_2d(
                chain.process(document.edited(region.start, region.end), document.sample_rate)
            )

        self._run(work, "Rendering the chain…", self._preview_ready)

    def _preview_ready(self, audio: np.ndarray) -> None:
        self.preview = audio
        if self.document is None or audio.shape[1] == 0:
            return
        self._play(Cursor(self._preview_read, 0, audio.shape[1]), channels=audio.shape[0])
        self.statusBar().showMessage(
            f"chain preview: {audio.shape[1] / self.document.sample_rate:.2f} s", 5000
        )

    # --- view -------------------------------------------------------------------------------
    def zoom_in(self) -> None:
        self.waveform.zoom_by(0.5)

    def zoom_out(self) -> None:
        self.waveform.zoom_by(2.0)

    def zoom_to_selection(self) -> None:
        a, b = self.waveform.selected()
        if b > a:
            self.waveform.zoom_to(a, b, margin_s=0.05)

    def set_dark(self, dark: bool) -> None:
        app = QApplication.instance()
        if app is not None:
            palette = QPalette()
            if dark:
                for role, rgb in (
                    (QPalette.ColorRole.Window, (45, 45, 48)),
                    (QPalette.ColorRole.WindowText, (220, 220, 220)),
                    (QPalette.ColorRole.Base, (30, 30, 32)),
                    (QPalette.ColorRole.AlternateBase, (45, 45, 48)),
                    (QPalette.ColorRole.Text, (220, 220, 220)),
                    (QPalette.ColorRole.Button, (55, 55, 58)),
                    (QPalette.ColorRole.ButtonText, (220, 220, 220)),
                    (QPalette.ColorRole.Highlight, (60, 110, 200)),
                    (QPalette.ColorRole.HighlightedText, (255, 255, 255)),
                ):
                    palette.setColor(role, _color(rgb))
            else:
                palette = app.style().standardPalette()
            app.setPalette(palette)
        self.waveform.set_dark(dark)
        self.dark_action.setChecked(dark)
        self.settings.setValue("dark", dark)

    def about(self) -> None:
        from voicemend.engine.models import shipped

        try:
            from importlib.metadata import version

            ver = version("voicemend")
        except Exception:
            ver = "development"
        models = shipped.manifest()
        cards = []
        for model in models.values():
            card = model.folder / "MODEL_CARD.md"
            cards.append(card.read_text(encoding="utf-8") if card.exists() else model.name)
        box = QMessageBox(self)
        box.setWindowTitle("About voicemend")
        box.setText(
            f"<b>voicemend {ver}</b><br>Repairs gaps of 5-1000 ms in speech.<br>"
            "GPL-3.0-or-later. Repair methods: "
            + ", ".join(sorted(INPAINTERS))
            + f"<br>Shipped models: {', '.join(models) or 'none'}"
        )
        box.setDetailedText("\n\n".join(cards) or "No neural model is shipped in this build.")
        box.setModal(False)
        box.show()
        self.about_box = box

    # --- plumbing ---------------------------------------------------------------------------
    def _run(self, work, label: str, done) -> None:
        self.job = Job(work)
        self.progress = QProgressDialog(label, "Cancel", 0, 0, self)
        self.progress.setWindowModality(Qt.WindowModality.WindowModal)
        self.progress.setMinimumDuration(300)
        self.progress.canceled.connect(self.job.cancel)
        self.job.progress.connect(self._on_progress)
        self.job.finished.connect(done)
        self.job.failed.connect(self.show_error)
        self.job.thread.finished.connect(self._job_ended)
        self.job.start()

    def _on_progress(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress.setMaximum(total)
            self.progress.setValue(done)

    def _job_ended(self) -> None:
        if self.progress is not None:
            self.progress.reset()
            self.progress = None
        job, self.job = self.job, None
        if job is not None:
            # Let Qt delete the thread once its event loop is done; dropping the last Python
            # reference inside its own finished() signal could destroy it mid-shutdown.
            job.thread.wait()
            job.deleteLater()
            job.thread.deleteLater()
            self._finished_job = job

    def _document_changed(self, start: int, end: int) -> None:
        """Views refresh once per undo step, not once per patch: undoing "repair all" on a
        clipped file removes thousands (11 321 took 76 s refreshed one by one). The undo stack's
        indexChanged flushes after each step; a zero timer catches any other change."""
        if not self._changed_ranges:
            QTimer.singleShot(0, self._flush_changes)
        self._changed_ranges.append((start, end))

    def _flush_changes(self, *_args) -> None:
        ranges, self._changed_ranges = self._changed_ranges, []
        if not ranges:
            return
        self.waveform.edited_ranges(ranges)
        self.spectrogram.schedule()
        self._refresh_overlays()

    def _refresh_overlays(self) -> None:
        if self.document is None:
            return
        sr = self.document.sample_rate
        detections = [d.seconds(sr) for d in self.dropouts.detections]
        repairs = [(p.region[0] / sr, p.region[1] / sr) for p in self.document.patches]
        self.waveform.set_overlays(detections, repairs)

    def _selection_changed(self, start_s: float, end_s: float) -> None:
        self.selection_label.setText(
            f"selection {format_time_s(start_s)} - {format_time_s(end_s)} "
            f"({1000 * (end_s - start_s):.1f} ms)"
        )

    def _on_clean_changed(self, _clean: bool) -> None:
        self._update_title()

    def _update_title(self) -> None:
        name = self.document.path.name if self.document else "voicemend"
        modified = "" if self.undo_stack.isClean() else " *"
        self.setWindowTitle(f"{name}{modified} - voicemend")


def _color(rgb: tuple[int, int, int]) -> QColor:
    return QColor(*rgb)
