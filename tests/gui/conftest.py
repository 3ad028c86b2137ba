"""Qt fixtures: the real window offscreen, with its settings, cache and audio device sandboxed."""

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


class Answers:
    """Scripted replies for ``MainWindow.ask``; records every question."""

    def __init__(self) -> None:
        self.replies: list[str] = []
        self.questions: list[str] = []

    def __call__(self, question: str, choices=("Yes", "No")) -> str:
        self.questions.append(question)
        reply = self.replies.pop(0) if self.replies else choices[-1]
        assert reply in choices, (reply, choices)
        return reply


@pytest.fixture
def no_audio_device(monkeypatch):
    import sounddevice as sd

    def refuse(*_a, **_k):
        raise sd.PortAudioError("Error querying device -1")

    monkeypatch.setattr(sd, "query_devices", refuse)


@pytest.fixture
def make_window(qtbot, tmp_path, monkeypatch, no_audio_device):
    pytest.importorskip("pytestqt")
    from PyQt6.QtCore import QSettings

    from voicemend.gui.main_window import MainWindow

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def make():
        settings = QSettings(str(tmp_path / "editor.ini"), QSettings.Format.IniFormat)
        w = MainWindow(settings=settings)
        w.answers = Answers()
        w.ask = w.answers
        qtbot.addWidget(w)
        return w

    return make


@pytest.fixture
def window(make_window):
    return make_window()
