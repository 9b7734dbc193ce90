"""Running a command while measuring its whole process tree: wall time, CPU, peak memory.

Sampled from /proc every SAMPLE_SECONDS, so the step processes a Dagster run forks count too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_SECONDS = 0.1
TICKS = os.sysconf("SC_CLK_TCK")


def _all_processes() -> dict[int, tuple[int, int, int, str]]:
    """pid -> (parent pid, start time, CPU ticks used, command name) for every process."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                text = stat.read().decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        name, rest = text[text.index("(") + 1: text.rindex(")")], text[text.rindex(")") + 2:].split()
        # Fields after the name, from "state": ppid is 1, utime 11, stime 12, starttime 19.
        found[int(entry.name)] = (int(rest[1]), int(rest[19]), int(rest[11]) + int(rest[12]), name)
    return found


def _memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB; zeros once it is gone or a zombie."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith(b"VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


class TreeSampler:
    """Every SAMPLE_SECONDS: the memory and CPU of a process and all its descendants.

    Peak of the largest single process uses VmHWM (the kernel's own high-water mark), so a
    spike between two samples still counts; the summed peak can only use VmRSS samples.
    Not the kernel's rusage: Dagster's step processes are reaped by its forkserver, not by
    the run we start, so their CPU and memory would be missed.
    """

    def __init__(self, root_pid: int):
        self.root_pid = root_pid
        self.peak_process_kib = 0
        self.peak_process_name = ""
        self.peak_tree_kib = 0
        self.most_processes = 0
        self.samples = 0
        self._cpu_ticks: dict[tuple[int, int], int] = {}  # (pid, start time): last seen
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)

    def __enter__(self) -> "TreeSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def cpu_seconds(self) -> float:
        return sum(self._cpu_ticks.values()) / TICKS

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(SAMPLE_SECONDS):
                return

    def sample(self) -> None:
        processes = _all_processes()
        children: dict[int, list[int]] = {}
        for pid, (parent, *_rest) in processes.items():
            children.setdefault(parent, []).append(pid)
        tree, queue = [], [self.root_pid] if self.root_pid in processes else []
        while queue:
            pid = queue.pop()
            tree.append(pid)
            queue.extend(children.get(pid, ()))
        total = 0
        for pid in tree:
            _parent, started, ticks, name = processes[pid]
            self._cpu_ticks[(pid, started)] = ticks
            rss, hwm = _memory_kib(pid)
            total += rss
            if max(rss, hwm) > self.peak_process_kib:
                self.peak_process_kib, self.peak_process_name = max(rss, hwm), name
        self.peak_tree_kib = max(self.peak_tree_kib, total)
        self.most_processes = max(self.most_processes, len(tree))
        self.samples += 1


@dataclass
class Measurement:
    side: str                        # "notebook" or "graph"
    ok: bool = False
    exit_code: int | None = None
    error: str = ""
    wall_s: float = 0.0
    rows_published: int | None = None
    rows_per_s: float = 0.0
    peak_rss_process_mib: float = 0.0
    peak_rss_process_name: str = ""
    peak_rss_tree_mib: float = 0.0
    cpu_s: float = 0.0               # user+system of every process of the tree, sampled
    processes: int = 0
    samples: int = 0
    load_before: list = field(default_factory=list)
    phases: dict = field(default_factory=dict)
    log: str = ""


def timed_run(side: str, command: list[str], env: dict, log_path: Path, timeout: float, cwd: Path) -> Measurement:
    """Run `command` to the end, measuring its tree; its output goes to `log_path`."""
    result = Measurement(side=side, load_before=[round(x, 2) for x in os.getloadavg()], log=str(log_path))
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        began = time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        with TreeSampler(child.pid) as sampler:
            timer = threading.Timer(timeout, _kill_group, (child.pid,))
            timer.start()
            try:
                child.wait()
            finally:
                timer.cancel()
            result.wall_s = time.perf_counter() - began
        # Whatever the run left behind (it should be nothing) is ours to stop.
        _kill_group(child.pid)
    result.exit_code = child.returncode
    result.peak_rss_process_mib = sampler.peak_process_kib / 1024
    result.peak_rss_process_name = sampler.peak_process_name
    result.peak_rss_tree_mib = sampler.peak_tree_kib / 1024
    result.cpu_s = sampler.cpu_seconds
    result.processes, result.samples = sampler.most_processes, sampler.samples
    if child.returncode != 0:
        reason = "timed out and was killed" if child.returncode == -signal.SIGKILL else f"exited {child.returncode}"
        result.error = f"{side} {reason}; log {log_path}:\n{_failure_excerpt(log_path)}"
    return result


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _failure_excerpt(log_path: Path, lines: int = 40) -> str:
    """The CLI's own failure summary when there is one, else the log's tail."""
    text = log_path.read_text(errors="replace")
    marker = text.rfind("=" * 72)
    tail = text[marker:] if marker >= 0 else text
    return "\n".join(tail.strip().splitlines()[-lines:])
