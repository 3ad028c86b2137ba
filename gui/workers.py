"""Heavy work off the GUI thread: repairs and detection in a QThread, with progress and cancel."""

from __future__ import annotations

import threading
from collections.abc import Callable

from PyQt6.QtCore import QObject, QThread, pyqtSignal

from voicemend.engine.errors import VoicemendError


class Job(QObject):
    """Runs ``fn(progress, should_cancel)`` in a thread; emits progress, result or error."""

    progress = pyqtSignal(int, int)
    finished = pyqtSignal(object)
    failed = pyqtSignal(str)

    def __init__(
        self, fn: Callable[[Callable[[int, int], None], Callable[[], bool]], object]
    ) -> None:
        super().__init__()
        self.fn = fn
        self._cancel = threading.Event()
        self.thread = QThread()
        self.moveToThread(self.thread)
        self.thread.started.connect(self.run)

    def start(self) -> None:
        self.thread.start()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:
        try:
            result = self.fn(lambda d, t: self.progress.emit(d, t), self._cancel.is_set)
        except VoicemendError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # shown in a dialog; the document is untouched
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.finished.emit(result)
        finally:
            self.thread.quit()
