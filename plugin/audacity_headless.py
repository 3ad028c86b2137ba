"""Start a real Audacity headless (Xvfb) with mod-script-pipe enabled: for the end-to-end
tests and the README screenshot, never for a user's own Audacity.

A fresh HOME keeps the user's settings out of it. The first start registers the module (as
"new", which Audacity does not load), the module is then enabled in the settings file, and the
second start opens the scripting pipes. Recipe as recorded in ``shared/AUDACITY.md``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from voicemend.plugin.audacity import AudacityError, AudacityPipe, default_pipe_paths

SCREEN = "1280x900x24"


class HeadlessAudacity:
    """``with HeadlessAudacity(home) as pipe: ...``; ``screenshot(path)`` grabs the display."""

    def __init__(self, home: Path, start_timeout_s: float = 90.0) -> None:
        for program in ("audacity", "Xvfb"):
            if shutil.which(program) is None:
                raise AudacityError(f"{program} is not installed (apt-get install audacity xvfb)")
        self.home = Path(home)
        self.start_timeout_s = start_timeout_s
        self.display = ""
        self._procs: list[subprocess.Popen] = []
        self.pipe: AudacityPipe | None = None

    @property
    def config(self) -> Path:
        return self.home / ".config" / "audacity" / "audacity.cfg"

    def __enter__(self) -> AudacityPipe:
        try:
            AudacityPipe(timeout_s=2).connect().close()
            raise AudacityError("another Audacity with mod-script-pipe is running for this user")
        except AudacityError as exc:
            if "another Audacity" in str(exc):
                raise
        for p in default_pipe_paths():
            p.unlink(missing_ok=True)  # left by an Audacity that has quit
        self.display = _free_display()
        self._procs.append(
            subprocess.Popen(
                ["Xvfb", self.display, "-screen", "0", SCREEN, "-nolisten", "tcp"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        socket = Path(f"/tmp/.X11-unix/X{self.display[1:]}")
        self._wait(socket.exists, "get its display (Xvfb)")
        first = self._audacity()
        self._wait(
            lambda: self.config.exists() and "mod-script-pipe=" in self.config.read_text(),
            "write its settings",
        )
        time.sleep(2)
        _stop(first)
        self._enable_module()
        for p in default_pipe_paths():
            p.unlink(missing_ok=True)
        self._procs.append(self._audacity())
        pipe = AudacityPipe(timeout_s=10)
        self._wait(lambda: _answers(pipe), "open its scripting pipe")
        pipe.timeout_s = 60
        # Exports give back exactly what was imported: no dither when writing 16-bit files.
        pipe.command(
            "SetPreference", Name="/Quality/HQDitherAlgorithmChoice", Value="None", Reload=True
        )
        self.pipe = pipe
        return pipe

    def __exit__(self, *_exc) -> None:
        if self.pipe is not None:
            self.pipe.close()
        for proc in reversed(self._procs):
            _stop(proc)

    def screenshot(self, path: Path) -> Path:
        from PIL import ImageGrab

        image = ImageGrab.grab(xdisplay=self.display)
        box = image.getbbox()  # the windows, without the empty (black) screen around them
        (image.crop(box) if box else image).save(str(path))
        return path

    def _audacity(self) -> subprocess.Popen:
        env = {**os.environ, "HOME": str(self.home), "DISPLAY": self.display}
        env.pop("XDG_CONFIG_HOME", None)
        return subprocess.Popen(
            ["audacity"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _enable_module(self) -> None:
        text = self.config.read_text()
        text = re.sub(r"(?m)^mod-script-pipe=\d+$", "mod-script-pipe=1", text, count=1)
        text = re.sub(r"\[ActiveProjects\]\n(?:[^\[].*\n?)*", "", text)  # no recovery dialog
        text = re.sub(r"(?m)^TempDir=.*$", f"TempDir={self.home / 'audacity-temp'}", text)
        self.config.write_text(text)

    def _wait(self, condition, what: str) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while not condition():
            if time.monotonic() > deadline:
                self.__exit__()
                raise AudacityError(f"Audacity did not {what} within {self.start_timeout_s:.0f} s")
            time.sleep(0.5)


def _answers(pipe: AudacityPipe) -> bool:
    try:
        pipe.connect()
        pipe.tracks()
        return True
    except AudacityError:
        pipe.close()
        return False


def _free_display() -> str:
    for n in range(90, 200):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return f":{n}"
    raise AudacityError("no free X display number for Xvfb")


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM) if _own_group(proc) else proc.terminate()
        proc.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        proc.kill()


def _own_group(proc: subprocess.Popen) -> bool:
    try:
        return os.getpgid(proc.pid) == proc.pid
    except ProcessLookupError:
        return False
