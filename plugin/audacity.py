"""A client for Audacity's scripting pipe (mod-script-pipe).

Audacity reads one command per line (``Command: Key=Value ...``) from its "to" pipe and answers
on its "from" pipe with the command's output, a ``BatchCommand finished: OK|Failed`` line and an
empty line. The pipes are per user: ``/tmp/audacity_script_pipe.to.UID`` and ``.from.UID`` on
Linux and macOS, ``\\\\.\\pipe\\ToSrvPipe`` and ``FromSrvPipe`` on Windows.

Every failure is an ``AudacityError`` that says what to do. A bad parameter makes Audacity open a
modal error box and stop answering, so the callers here only send commands they have checked,
and every read has a timeout.
"""

from __future__ import annotations

import json
import logging
import os
import select
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voicemend.engine.errors import VoicemendError

log = logging.getLogger(__name__)

ENABLE_HINT = (
    "enable it in Audacity: Edit > Preferences > Modules > mod-script-pipe > Enabled, "
    "then restart Audacity"
)


class AudacityError(VoicemendError):
    """Audacity is not reachable, did not answer, or a command failed."""


class AudacityNotRunning(AudacityError):
    pass


class AudacityCommandFailed(AudacityError):
    def __init__(self, command: str, reply: str) -> None:
        detail = reply.strip() or "no details"
        super().__init__(f"Audacity could not run {command!r}: {detail}")
        self.command, self.reply = command, reply


@dataclass(frozen=True)
class Track:
    """One track as ``GetInfo: Type=Tracks`` reports it; ``index`` counts every track from 0."""

    index: int
    name: str
    kind: str  # "wave", "label", "time", "note"
    selected: bool
    start_s: float = 0.0
    end_s: float = 0.0
    channels: int = 0

    @classmethod
    def from_info(cls, index: int, info: dict[str, Any]) -> Track:
        return cls(
            index,
            str(info.get("name", "")),
            str(info.get("kind", "")),
            bool(info.get("selected", 0)),
            float(info.get("start", 0.0)),
            float(info.get("end", 0.0)),
            int(info.get("channels", 0)),
        )


def default_pipe_paths() -> tuple[Path, Path]:
    """(to Audacity, from Audacity) for this platform and user."""
    if sys.platform == "win32":
        return Path(r"\\.\pipe\ToSrvPipe"), Path(r"\\.\pipe\FromSrvPipe")
    uid = os.getuid()
    base = Path(os.environ.get("VOICEMEND_AUDACITY_PIPE_DIR", "/tmp"))
    return base / f"audacity_script_pipe.to.{uid}", base / f"audacity_script_pipe.from.{uid}"


def format_command(name: str, **params: Any) -> str:
    """``Name: Key=Value ...`` with strings quoted; refuses values Audacity cannot parse."""
    if not name.isidentifier():
        raise AudacityError(f"not an Audacity command name: {name!r}")
    parts = [f"{name}:"]
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "1" if value else "0"
        elif isinstance(value, float):
            text = repr(value)
        elif isinstance(value, int):
            text = str(value)
        else:
            text = str(value)
            if '"' in text or "\n" in text:
                raise AudacityError(
                    f"{name} {key}: quotes and line breaks cannot be sent: {text!r}"
                )
            text = f'"{text}"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


class AudacityPipe:
    """A connection to a running Audacity. Use as a context manager."""

    def __init__(
        self,
        to_path: Path | None = None,
        from_path: Path | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        default_to, default_from = default_pipe_paths()
        self.to_path = Path(to_path or default_to)
        self.from_path = Path(from_path or default_from)
        self.timeout_s = timeout_s
        self._to: int | None = None
        self._from: int | None = None

    # --- connection -------------------------------------------------------------------------
    def connect(self) -> AudacityPipe:
        if sys.platform == "win32":  # pragma: no cover - named pipes are files there
            try:
                self._to_file = open(self.to_path, "w")  # noqa: SIM115
                self._from_file = open(self.from_path)  # noqa: SIM115
            except OSError:
                raise AudacityNotRunning(self._not_running()) from None
            return self
        if not (self.to_path.exists() and self.from_path.exists()):
            raise AudacityNotRunning(self._not_running())
        # Our reading end first: Audacity may be waiting for a reader of its "from" pipe before
        # it opens "to" for reading. Then "to", non-blocking: a pipe left behind by an Audacity
        # that has quit has no reader, and a blocking open would wait for ever.
        self._from = os.open(self.from_path, os.O_RDONLY | os.O_NONBLOCK)
        deadline = time.monotonic() + min(self.timeout_s, 5.0)
        while True:
            try:
                self._to = os.open(self.to_path, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.close()
                    raise AudacityNotRunning(
                        f"{self.to_path} exists but nothing reads it: Audacity is not running "
                        "(the pipe is left from an earlier session), or mod-script-pipe is not "
                        "enabled; " + ENABLE_HINT
                    ) from None
                time.sleep(0.05)
        os.set_blocking(self._to, True)
        return self

    def close(self) -> None:
        for fd in (self._to, self._from):
            if fd is not None:
                os.close(fd)
        self._to = self._from = None

    def __enter__(self) -> AudacityPipe:
        return self.connect() if self._to is None else self

    def __exit__(self, *_exc) -> None:
        self.close()

    def _not_running(self) -> str:
        return (
            f"cannot reach Audacity: no scripting pipe at {self.to_path}. Start Audacity; if it "
            f"is running, mod-script-pipe is not enabled: {ENABLE_HINT}"
        )

    # --- commands ---------------------------------------------------------------------------
    def send(self, line: str, timeout_s: float | None = None) -> str:
        """Send one command line; return its output (without the status lines).

        Raises AudacityCommandFailed when Audacity reports a failure, and AudacityError when
        no complete answer comes in time (an Audacity dialog may be waiting for a click).
        """
        if self._to is None or self._from is None:
            self.connect()
        assert self._to is not None and self._from is not None
        log.info("audacity <- %s", line)
        started = time.monotonic()
        try:
            os.write(self._to, (line + "\n").encode("utf-8"))
        except BrokenPipeError:
            raise AudacityNotRunning("Audacity closed the scripting pipe (did it quit?)") from None
        limit = self.timeout_s if timeout_s is None else timeout_s
        buffer = b""
        while True:
            status = _finished(buffer)
            if status is not None:
                break
            left = limit - (time.monotonic() - started)
            ready, _, _ = select.select([self._from], [], [], max(0.0, left))
            if not ready:
                raise AudacityError(
                    f"Audacity did not answer {line.split(':')[0]!r} within {limit:g} s; "
                    "if a dialog is open in Audacity, close it and try again"
                )
            chunk = os.read(self._from, 65536)
            if not chunk:
                time.sleep(0.01)  # no writer at this moment; Audacity reopens between replies
            buffer += chunk
        text = buffer.decode("utf-8", errors="replace")
        body = text[: text.rfind("BatchCommand finished:")].strip("\n")
        log.info("audacity -> %s (%.2f s)", status, time.monotonic() - started)
        if status != "OK":
            raise AudacityCommandFailed(line, body)
        return body

    def command(self, name: str, timeout_s: float | None = None, **params: Any) -> str:
        return self.send(format_command(name, **params), timeout_s)

    def info(self, kind: str) -> Any:
        """``GetInfo: Type=KIND Format=JSON`` parsed (Tracks, Labels, Clips, ...)."""
        if kind not in {"Tracks", "Labels", "Clips", "Envelopes", "Boxes", "Commands", "Menus"}:
            raise AudacityError(f"GetInfo has no type {kind!r}")
        body = self.command("GetInfo", Type=kind, Format="JSON")
        try:
            return json.loads(body)
        except json.JSONDecodeError:
            raise AudacityError(
                f"Audacity's {kind} information is not JSON: {body[:200]!r}"
            ) from None

    def tracks(self) -> list[Track]:
        return [Track.from_info(i, t) for i, t in enumerate(self.info("Tracks"))]

    def labels(self) -> dict[int, list[tuple[float, float, str]]]:
        """Label track index -> its labels (start s, end s, text)."""
        return {
            int(index): [(float(a), float(b), str(text)) for a, b, text in rows]
            for index, rows in self.info("Labels")
        }


def _finished(buffer: bytes) -> str | None:
    """ "OK"/"Failed" once the reply's closing status line and blank line have arrived."""
    marker = b"BatchCommand finished: "
    at = buffer.rfind(marker)
    if at < 0:
        return None
    rest = buffer[at + len(marker) :]
    if b"\n\n" not in rest:
        return None
    return rest.split(b"\n", 1)[0].decode().strip()


def installed_version(home: Path | None = None) -> str | None:
    """Audacity's version as its settings file records it (the pipe cannot tell)."""
    home = home or Path.home()
    for cfg in (
        home / ".config" / "audacity" / "audacity.cfg",
        home / ".audacity-data" / "audacity.cfg",
        home / "Library" / "Application Support" / "audacity" / "audacity.cfg",
    ):
        if cfg.exists():
            section, found = "", {}
            for line in cfg.read_text(encoding="utf-8", errors="replace").splitlines():
                if line.startswith("["):
                    section = line.strip("[]")
                elif section == "Version" and "=" in line:
                    key, value = line.split("=", 1)
                    found[key] = value
            if {"Major", "Minor", "Micro"} <= set(found):
                return f"{found['Major']}.{found['Minor']}.{found['Micro']}"
    return None
