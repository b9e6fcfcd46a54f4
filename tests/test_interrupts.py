"""Killing or interrupting `mouthpiece animate` on long audio: no worker outlives it, no file is damaged."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf

from backend.text import synthesize

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = ("Maybe the big brown bear will move upstairs, but Bob wants a warm bowl of soup. "
             "Sixty zebras, she said, jumped over the quiet brook. Will Peter fetch those pumpkins by Thursday? ")


needs_two_cores = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="long audio is decoded in "
                                     "this process when there is one core: no pool workers to watch")


@pytest.fixture(scope="module")
def long_audio(tmp_path_factory) -> Path:
    """About a minute of English speech, cut at pauses into chunks that a process pool decodes."""
    speech = synthesize(SENTENCES * 7, language="en")
    path = tmp_path_factory.mktemp("long") / "long line.wav"
    sf.write(path, speech.audio, speech.sample_rate)
    assert 50 < len(speech.audio) / speech.sample_rate < 80
    return path


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def is_running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie may wait for a reaper that never comes in a container)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def is_pool_worker(pid: int) -> bool:
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def start_animate(audio: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "backend.cli", "animate", "--audio", str(audio), "--out",
                             str(out), "--overwrite", "--quiet"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=hear_ctrl_c)


def hear_ctrl_c() -> None:
    """Undo an inherited SIGINT ignore (a shell's background job has one), as a terminal's process would be."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_workers(process: subprocess.Popen, timeout_s: float = 120.0) -> set[int]:
    """The pool workers of `process`, once at least two are running and have had time to start decoding."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"finished before its workers were seen: {process.stderr.read()}"
        workers = {pid for pid in descendants(process.pid) if is_pool_worker(pid)}
        if len(workers) >= 2:
            time.sleep(2.0)
            return descendants(process.pid)
        time.sleep(0.1)
    process.kill()
    pytest.fail("no pool workers appeared")


def wait_until_gone(pids: set[int], timeout_s: float) -> set[int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        alive = {pid for pid in pids if is_running(pid)}
        if not alive:
            return alive
        time.sleep(0.1)
    return {pid for pid in pids if is_running(pid)}


@needs_two_cores
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_workers_die_with_a_killed_cli(long_audio, tmp_path, sig):
    out = tmp_path / "line.json"
    out.write_text("old output")
    process = start_animate(long_audio, out)
    below = wait_for_workers(process)
    os.kill(process.pid, sig)
    process.wait(timeout=10)
    survivors = wait_until_gone(below, timeout_s=5.0)
    for pid in survivors:  # leave nothing behind for the rest of the suite
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"{len(survivors)} of {len(below)} child processes outlived the CLI"
    if sig == signal.SIGTERM:  # unwinds like Ctrl-C: one line, the conventional status
        assert process.returncode == 143
        assert process.stderr.read().strip().splitlines()[-1] == "mouthpiece: terminated"
    assert out.read_text() == "old output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.json"]


@needs_two_cores
def test_ctrl_c_exits_with_one_line_and_leaves_the_old_output(long_audio, tmp_path):
    out = tmp_path / "line.json"
    out.write_text("old output")
    process = start_animate(long_audio, out)
    below = wait_for_workers(process)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal sends: the whole process group
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert stderr.strip().splitlines()[-1] == "mouthpiece: interrupted"
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert not wait_until_gone(below, timeout_s=5.0)
    assert out.read_text() == "old output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["line.json"]


def test_workers_know_their_parent_dies(tmp_path):
    """The worker side alone: a grandchild pool worker goes when its parent is SIGKILLed mid-job."""
    script = ("import sys, time\n"
              "from backend.parallel import map_chunks\n"
              "if __name__ == '__main__':\n"
              "    map_chunks(time.sleep, [60.0, 60.0], workers=2)\n")
    process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, start_new_session=True)
    below = wait_for_workers(process)
    process.kill()
    process.wait(timeout=10)
    survivors = wait_until_gone(below, timeout_s=5.0)
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert not survivors
