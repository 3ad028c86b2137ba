"""The mod-script-pipe client against a fake Audacity: a thread serving real named pipes."""

import json
import os
import select
import threading
import time
from pathlib import Path

import pytest

from voicemend.plugin.audacity import (
    AudacityCommandFailed,
    AudacityError,
    AudacityNotRunning,
    AudacityPipe,
    format_command,
    installed_version,
)
from voicemend.plugin.audacity_ops import current_selection


class FakeAudacity:
    """Reads command lines from the "to" FIFO; ``handle(line)`` returns (body, ok) or None
    (no answer at all, as when a dialog is open)."""

    def __init__(self, folder: Path, handle) -> None:
        self.to_path = folder / "to"
        self.from_path = folder / "from"
        os.mkfifo(self.to_path)
        os.mkfifo(self.from_path)
        self.handle = handle
        self.received: list[str] = []
        self._stop = threading.Event()
        self._to = os.open(self.to_path, os.O_RDONLY | os.O_NONBLOCK)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        out = os.open(self.from_path, os.O_WRONLY)  # waits for the client to open its end
        pending = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self._to], [], [], 0.05)
            if not ready:
                continue
            chunk = os.read(self._to, 4096)
            if not chunk:
                time.sleep(0.01)
                continue
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                text = line.decode()
                self.received.append(text)
                answer = self.handle(text)
                if answer is not None:
                    body, ok = answer
                    status = "OK" if ok else "Failed!"
                    os.write(out, f"{body}\nBatchCommand finished: {status}\n\n".encode())
        os.close(out)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(2)
        os.close(self._to)


@pytest.fixture
def fake(tmp_path):
    servers = []

    def make(handle):
        server = FakeAudacity(tmp_path, handle)
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.stop()


TRACKS = [
    {"name": "voice", "selected": 1, "kind": "wave", "start": 0, "end": 5, "channels": 2},
    {"name": "Labels", "selected": 0, "kind": "label"},
]


def test_commands_round_trip_and_json_is_parsed(fake):
    def handle(line):
        if line.startswith("GetInfo:") and 'Type="Tracks"' in line:
            return json.dumps(TRACKS), True
        return "", True

    server = fake(handle)
    with AudacityPipe(server.to_path, server.from_path, timeout_s=5) as pipe:
        tracks = pipe.tracks()
        assert [t.name for t in tracks] == ["voice", "Labels"]
        assert tracks[0].channels == 2 and tracks[0].selected and tracks[1].kind == "label"
        pipe.command("Select", Start=1.0, End=1.25, Mode="Set")
    assert server.received[-1] == 'Select: Start=1.0 End=1.25 Mode="Set"'


def test_a_failed_command_raises_with_audacity_s_words(fake):
    server = fake(lambda line: ("Unknown track", False))
    with (
        AudacityPipe(server.to_path, server.from_path, timeout_s=5) as pipe,
        pytest.raises(AudacityCommandFailed, match="Unknown track") as info,
    ):
        pipe.command("Paste")
    assert info.value.command == "Paste:"


def test_no_answer_times_out_and_says_why(fake):
    server = fake(lambda line: None)
    with AudacityPipe(server.to_path, server.from_path, timeout_s=0.3) as pipe:
        started = time.monotonic()
        with pytest.raises(AudacityError, match=r"did not answer 'Copy' within 0\.3 s.*dialog"):
            pipe.command("Copy")
        assert time.monotonic() - started < 10  # the timeout is honoured, not waited out


def test_not_running_tells_how_to_enable_the_module(tmp_path):
    with pytest.raises(AudacityNotRunning, match="Preferences > Modules > mod-script-pipe"):
        AudacityPipe(tmp_path / "to", tmp_path / "from").connect()


def test_a_stale_pipe_without_audacity_is_reported(tmp_path):
    os.mkfifo(tmp_path / "to")
    os.mkfifo(tmp_path / "from")
    with pytest.raises(AudacityNotRunning, match="nothing reads it"):
        AudacityPipe(tmp_path / "to", tmp_path / "from", timeout_s=0.5).connect()


def test_format_command_quotes_strings_and_refuses_what_cannot_be_sent():
    assert format_command("Import2", Filename="/a b/c.wav") == 'Import2: Filename="/a b/c.wav"'
    assert format_command("Select", Track=1.0, Mode="Add") == 'Select: Track=1.0 Mode="Add"'
    assert format_command("Undo") == "Undo:"
    with pytest.raises(AudacityError, match="quotes"):
        format_command("SetLabel", Text='say "hi"')
    with pytest.raises(AudacityError, match="command name"):
        format_command("Bad Name")


def test_selection_is_read_through_a_label_that_is_undone(fake):
    state = {"labels": [[1, [[0.5, 0.6, "old"]]]]}

    def handle(line):
        if line.startswith("GetInfo:"):
            return json.dumps(state["labels"]), True
        if line == "AddLabel:":
            state["labels"] = [[1, [[0.5, 0.6, "old"], [2.0, 2.2, ""]]]]
        if line == "Undo:":
            state["labels"] = [[1, [[0.5, 0.6, "old"]]]]
        return "", True

    server = fake(handle)
    with AudacityPipe(server.to_path, server.from_path, timeout_s=5) as pipe:
        assert current_selection(pipe) == (2.0, 2.2)
    assert server.received.count("Undo:") == 1
    assert state["labels"] == [[1, [[0.5, 0.6, "old"]]]]


def test_version_comes_from_audacity_s_settings_file(tmp_path):
    cfg = tmp_path / ".config" / "audacity" / "audacity.cfg"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("[Version]\nMajor=3\nMinor=2\nMicro=4\n[Module]\nmod-script-pipe=1\n")
    assert installed_version(tmp_path) == "3.2.4"
    assert installed_version(tmp_path / "nobody") is None


def test_cli_without_audacity_explains_and_fails(tmp_path, monkeypatch, capsys):
    from voicemend.plugin.cli import main

    monkeypatch.setenv("VOICEMEND_AUDACITY_PIPE_DIR", str(tmp_path))
    assert main(["audacity", "status"]) != 0
    err = capsys.readouterr().err
    assert "cannot reach Audacity" in err and "mod-script-pipe" in err
    assert main(["audacity", "repair-selection", "--method", "nope"]) != 0
    assert "unknown method 'nope'" in capsys.readouterr().err
