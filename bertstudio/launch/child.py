"""A training's own process, seen from the server: start it, interrupt it, kill it and what it spawned.

The child works in the server's own folder, so a relative data path means what it meant to the
server. The launcher starts the child in a session of its own, so a Ctrl-C meant for the server never
reaches it and it outlives a server restart. Under `accelerate launch` the child is Accelerate's
launcher, which starts one training process per device, each in a session of its own again (torch's
elastic agent does so): ending it for good therefore walks the whole tree of processes below it.
`launch.json` in the run folder names the child, so a restarted server can find it again.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bertstudio.runs.folder import PROCESS_FILE, RunFolder

LAUNCH_FILE = "launch.json"   # the child's pid and command, written by the server that started it
LOG_FILE = "process.log"      # the child's stdout and stderr, appended to on a resume


@dataclass
class Child:
    """One training process tree. `popen` is None for a child adopted after a restart: it is not
    this server's child, so its exit code is unknown and only its liveness can be watched."""

    pid: int
    run_dir: Path
    popen: subprocess.Popen | None = None
    started: float = 0.0  # when it was started (time.time())

    @classmethod
    def start(cls, command: list[str], run_dir: Path, env: dict[str, str]) -> "Child":
        with open(run_dir / LOG_FILE, "ab") as log:
            popen = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env, start_new_session=True)
        child = cls(pid=popen.pid, run_dir=run_dir, popen=popen, started=time.time())
        RunFolder(run_dir).write_json(LAUNCH_FILE, {"pid": popen.pid, "host": socket.gethostname(),
                                                    "started": child.started, "command": command})
        return child

    @classmethod
    def find(cls, run_dir: Path) -> "Child | None":
        """The child a server (perhaps an earlier one) started for this run, while it still lives."""
        info = RunFolder(run_dir).read_json(LAUNCH_FILE)
        if not isinstance(info, dict) or info.get("host") != socket.gethostname():
            return None
        try:
            pid, started = int(info["pid"]), float(info.get("started") or 0.0)
        except (KeyError, TypeError, ValueError):
            return None
        return cls(pid=pid, run_dir=run_dir, started=started) if _alive(pid) else None

    def exit_code(self) -> int | None:
        """The exit status once it has ended (negative: the signal that ended it); None while it
        runs, and for an adopted child always."""
        return self.popen.poll() if self.popen is not None else None

    def alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return _alive(self.pid)

    def interrupt(self) -> None:
        """Ask the run to stop after its current step, as Ctrl-C does. The signal goes to the
        process that trains (rank 0, from process.json), not to Accelerate's launcher: the launcher
        would pass a second interrupt on to every rank, which aborts instead of stopping. The other
        ranks stop at the same step because the trainer agrees on stopping across processes."""
        target = self._training_pid() or self.pid
        _signal(target, signal.SIGINT)

    def kill(self) -> None:
        """End every process of the run now."""
        for pid in [*_descendants(self.pid), self.pid, self._training_pid()]:
            if pid:
                _signal(pid, signal.SIGKILL)
        if self.popen is not None:
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def log_tail(self, lines: int = 40) -> list[str]:
        """The last non-empty lines of the child's output."""
        try:
            with open(self.run_dir / LOG_FILE, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - 16_384))
                text = handle.read().decode("utf-8", errors="replace")
        except OSError:
            return []
        # Progress bars rewrite their line with \r: only what each line last showed counts.
        kept = [line.rsplit("\r", 1)[-1].rstrip() for line in text.splitlines()]
        return [line for line in kept if line.strip()][-lines:]

    def _training_pid(self) -> int | None:
        info = RunFolder(self.run_dir).read_json(PROCESS_FILE)
        if not isinstance(info, dict) or info.get("host") != socket.gethostname():
            return None
        try:
            pid = int(info["pid"])
        except (KeyError, TypeError, ValueError):
            return None
        return pid if pid != os.getpid() and _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except OSError:
        pass  # already gone


def _descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc (Linux); empty where /proc is missing."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    found, todo = [], [pid]
    while todo:
        for kid in parents.get(todo.pop(), []):
            found.append(kid)
            todo.append(kid)
    return found


def describe_exit(code: int | None) -> str:
    """How a child that left no end event ended, in words a person can act on."""
    if code is None:
        return "The training process ended without finishing"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if -code == signal.SIGKILL:
            return ("The training process was killed (SIGKILL), most often because the machine ran out of "
                    "memory; a smaller batch size or max length needs less")
        if -code == signal.SIGSEGV:
            return "The training process crashed (a segmentation fault in native code)"
        return f"The training process was ended by {name}"
    return f"The training process ended with exit code {code} before the run finished"

