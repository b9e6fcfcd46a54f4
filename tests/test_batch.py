"""`mouthpiece batch`: manifests, shards, resume after a kill, failures that stop nothing else, and the
.blend files of many lines written in one Blender launch."""
from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.animation import load_json
from backend.batch import DoneLog, Line, parse_shard, read_source, shard
from backend.errors import InputError
from backend.rig import FACEWAREHOUSE_46

from conftest import REPO

BPY5_PYTHON = REPO / ".venv-bpy5" / "bin" / "python"
DEFAULT_HEAD = REPO / "assets" / "head.blend"


def mouthpiece(*args, cwd=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backend.cli", *map(str, args)], cwd=cwd or REPO,
                          capture_output=True, text=True, timeout=timeout)


def bpy_python() -> str | None:
    if importlib.util.find_spec("bpy") is not None:
        return sys.executable
    return str(BPY5_PYTHON) if BPY5_PYTHON.is_file() else None


def write_csv(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_csv_manifest_defaults_overrides_and_paths(tmp_path):
    manifest = write_csv(tmp_path / "lines.csv", "id,audio,text,fps,no_blinks,object,start_frame,out",
                         "one,clips/one.wav,,24,yes,,,", "two,,Hello there.,,,Head,12,", ",,Bye now.,,,,,two/b.csv")
    lines = read_source(manifest, {"fps": 30.0, "strength": 0.8}, tmp_path / "out")
    one, two, three = lines
    assert one.audio == str(tmp_path / "clips" / "one.wav") and one.fps == 24.0 and one.no_blinks
    assert one.out == str(tmp_path / "out" / "one.json") and not one.needs_blend and one.speech_out is None
    assert two.fps == 30.0 and two.strength == 0.8 and two.start_frame == 12 and two.object == "Head"
    assert two.speech_out == str(tmp_path / "out" / "two.wav") and two.out_blend == str(tmp_path / "out" / "two.blend")
    assert three.id == "line0003" and three.out == str(tmp_path / "out" / "two" / "b.csv")
    assert all(line.problem is None for line in lines)


def test_json_manifest_and_folder_source(tmp_path):
    manifest = tmp_path / "lines.json"
    manifest.write_text(json.dumps({"lines": [{"id": "a", "text": "Hi.", "smoothing": 0.02, "seed": 3},
                                              {"id": "b", "audio": "/abs/b.flac", "transcript": "bee"}]}))
    a, b = read_source(manifest, {}, tmp_path / "out", animation_format="npz")
    assert (a.smoothing, a.seed, a.out) == (0.02, 3, str(tmp_path / "out" / "a.npz"))
    assert b.audio == "/abs/b.flac" and b.transcript == "bee"
    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ("x.wav", "y.m4a", "notes.md"):
        (folder / name).write_bytes(b"data")
    (folder / "x.txt").write_text("the words")
    x, y = read_source(folder, {"language": "es"}, tmp_path / "out")
    assert (x.id, x.transcript_file, x.language) == ("x", str(folder / "x.txt"), "es")
    assert (y.id, y.transcript_file) == ("y", None)


@pytest.mark.parametrize("content, problem", [
    ("id,audio,colour\na,x.wav,red\n", "unknown column 'colour'"),
    ("id,audio\na,x.wav\na,y.wav\n", "line id 'a' appears in rows 1 and 2"),
    ("id,audio\n", "holds no lines to animate"),
])
def test_broken_manifest_is_one_clear_error(tmp_path, content, problem):
    manifest = tmp_path / "lines.csv"
    manifest.write_text(content)
    with pytest.raises(InputError, match=problem):
        read_source(manifest, {}, tmp_path)


def test_bad_row_value_fails_only_that_line(tmp_path):
    manifest = write_csv(tmp_path / "lines.csv", "id,text,audio,fps", "a,Hi.,,fast", "b,,,", "c,Hi.,x.wav,", "d,Hi.,,")
    problems = {line.id: line.problem for line in read_source(manifest, {}, tmp_path)}
    assert problems == {"a": "row 1: fps must be a number, not 'fast'", "b": "row 2: has neither audio nor text",
                        "c": "row 3: has both audio and text; give one", "d": None}


def test_shards_cover_every_line_exactly_once():
    lines = [Line(id=f"scene{i // 10}_line{i:03d}", text="x") for i in range(500)]
    for count in (1, 2, 3, 8, 64):
        parts = [shard(lines, index, count) for index in range(count)]
        ids = [line.id for part in parts for line in part]
        assert sorted(ids) == sorted(line.id for line in lines) and len(ids) == len(set(ids))
        assert parts == [shard(lines, index, count) for index in range(count)]  # the same on every machine
    sizes = [len(shard(lines, index, 4)) for index in range(4)]
    assert min(sizes) > 90  # spread, not one machine doing it all
    assert parse_shard("3/8") == (3, 8)
    for bad in ("8/8", "-1/4", "1", "a/b", "0/0"):
        with pytest.raises(InputError):
            parse_shard(bad)


def test_done_log_skips_cut_lines_and_needs_the_outputs(tmp_path):
    out = tmp_path / "a.json"
    line = Line(id="a", text="Hi.", out=str(out))
    log = DoneLog.for_shard(tmp_path, 0, 1)
    log.record(line, "animation")
    with open(log.path, "a") as handle:
        handle.write('{"id": "b", "ke')  # a kill in the middle of a write
    assert not log.is_done(line, "animation")  # the output is missing
    out.write_text("{}")
    assert log.is_done(line, "animation")
    assert not log.is_done(Line(id="a", text="Hi!", out=str(out)), "animation")  # the line changed


def test_small_batch_writes_animation_json_per_line(tmp_path):
    manifest = write_csv(tmp_path / "lines.csv", "id,text,fps,strength,no_blinks",
                         "bob,Bob made a map.,24,,", "mia,My mum moved.,,0.5,true", "fay,Five fine fish.,,,")
    done = mouthpiece("batch", manifest, "--out-dir", tmp_path / "out", "--workers", 2)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == ("batch: 3 of 3 lines (shard 0/1): 0 done earlier, 3 animated, "
                                                    "0 .blend written, 0 failed")
    bob, mia, fay = (load_json(tmp_path / "out" / f"{name}.json") for name in ("bob", "mia", "fay"))
    assert bob.fps == 24.0 and mia.fps == fay.fps == 30.0 and bob.channels == list(FACEWAREHOUSE_46)
    assert {"B", "M", "P"} & {p[0] for p in bob.meta["phones"]}
    assert mia.values.max() <= 0.5 + 1e-6 and fay.values.max() > 0.5
    blink = FACEWAREHOUSE_46.index("EyeBlink_L")
    assert mia.values[:, blink].max() == 0.0
    assert all((tmp_path / "out" / f"{name}.wav").stat().st_size > 1000 for name in ("bob", "mia", "fay"))
    assert not list((tmp_path / "out").glob(".*part*"))
    again = mouthpiece("batch", manifest, "--out-dir", tmp_path / "out")
    assert again.returncode == 0 and "3 done earlier, 0 animated" in again.stderr


def test_failures_are_summarised_and_exit_non_zero(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept.json").write_text("my own file")
    manifest = write_csv(tmp_path / "lines.csv", "id,audio,text,fps",
                         "gone,missing.wav,,", "bad,,Hi.,fast", "kept,,Keep me.,", "good,,Bob made a map.,",
                         "slow,,Hi.,-5")
    done = mouthpiece("batch", manifest, "--out-dir", out, "--workers", 1)
    assert done.returncode == 1
    summary = done.stderr.strip().splitlines()[-5:]
    assert summary[:4] == [
        "batch: 5 of 5 lines (shard 0/1): 0 done earlier, 1 animated, 0 .blend written, 4 failed",
        "failed: bad: row 2: fps must be a number, not 'fast'",
        f"failed: gone: {tmp_path / 'missing.wav'}: audio file not found",
        f"failed: kept: {out / 'kept.json'}: already exists; pass --overwrite to replace it"]
    assert summary[4].startswith("failed: slow: ") and "fps" in summary[4]  # the options' own range check
    assert load_json(out / "good.json").n_frames > 10
    assert (out / "kept.json").read_text() == "my own file" and not (out / "kept.wav").exists()
    assert "Traceback" not in done.stderr


def test_resume_after_a_kill(tmp_path):
    out = tmp_path / "out"
    names = [f"line{i}" for i in range(8)]
    manifest = write_csv(tmp_path / "lines.csv", "id,text", *(f"{n},Bob made a map number {i}." for i, n in enumerate(names)))
    process = subprocess.Popen([sys.executable, "-m", "backend.cli", "batch", str(manifest), "--out-dir", str(out),
                                "--workers", "1"], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    log = out / ".mouthpiece-batch" / "done-0of1.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None and not (log.is_file() and log.read_text().strip()):
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    first = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.glob("*.json")}
    assert first, "the batch was killed before it finished a line"
    done = mouthpiece("batch", manifest, "--out-dir", out)
    assert done.returncode == 0, done.stderr
    earlier = int(done.stderr.split(" done earlier")[0].rsplit(" ", 1)[1])
    assert 1 <= earlier < len(names) and all(load_json(out / f"{n}.json").n_frames > 10 for n in names)
    for name, (data, mtime) in first.items():
        if name[:-5] in {json.loads(t)["id"] for t in log.read_text().splitlines()[:earlier]}:
            assert (out / name).read_bytes() == data and (out / name).stat().st_mtime_ns == mtime
    assert not list(out.glob(".*part*"))


@pytest.mark.skipif(bpy_python() is None or not DEFAULT_HEAD.is_file(), reason="no Python with bpy, or no head")
def test_blender_writes_a_blend_per_line_in_one_launch(tmp_path):
    out = tmp_path / "out"
    manifest = write_csv(tmp_path / "lines.csv", "id,text,start_frame,blend",
                         f"early,Bob made a map.,1,{DEFAULT_HEAD}", f"late,My mum moved.,40,{DEFAULT_HEAD}",
                         "plain,Just the JSON.,,")
    done = mouthpiece("batch", manifest, "--out-dir", out, "--workers", 2, "--blender", bpy_python())
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("opening Blender for 2 .blend files") == 1
    assert "2 .blend written, 0 failed" in done.stderr and not (out / "plain.blend").exists()
    probe = ("import bpy, json, sys\nresult = {}\nfor path in sys.argv[1:]:\n"
             "    bpy.ops.wm.open_mainfile(filepath=path)\n    scene = bpy.context.scene\n"
             "    head = next(o for o in bpy.data.objects if o.type == 'MESH' and o.data.shape_keys)\n"
             "    action = head.data.shape_keys.animation_data.action\n"
             "    editor = scene.sequence_editor\n"
             "    strips = list(getattr(editor, 'strips_all', None) or editor.sequences_all)\n"
             "    result[path] = [list(action.frame_range), scene.frame_end,"
             " [(s.frame_start, bpy.path.abspath(s.sound.filepath)) for s in strips if s.type == 'SOUND']]\n"
             "print('RESULT' + json.dumps(result))\n")
    blends = [str(out / "early.blend"), str(out / "late.blend")]
    seen = subprocess.run([bpy_python(), "-c", probe, *blends], capture_output=True, text=True, timeout=300)
    result = json.loads(seen.stdout.split("RESULT")[-1])
    (early_range, early_end, early_strips), (late_range, late_end, late_strips) = (result[b] for b in blends)
    assert early_range[0] == 1 and late_range[0] == 40 and late_end >= late_range[1] > 45
    assert early_strips == [[1, str(out / "early.wav")]] and late_strips == [[40, str(out / "late.wav")]]
    again = mouthpiece("batch", manifest, "--out-dir", out, "--blender", bpy_python())
    assert again.returncode == 0 and "opening Blender" not in again.stderr and "3 done earlier" in again.stderr


@pytest.mark.skipif(bpy_python() is None or not DEFAULT_HEAD.is_file(), reason="no Python with bpy, or no head")
def test_whole_manifest_inside_blender(tmp_path):
    manifest = write_csv(tmp_path / "lines.csv", "id,text,start_frame", "hi,Bob made a map.,5", "oops,,3")
    done = subprocess.run([bpy_python(), REPO / "blender_addon" / "batch.py", "--", manifest, "--out-dir", tmp_path / "out"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-2:] == [
        "batch: 2 of 2 lines (shard 0/1): 0 done earlier, 1 animated, 1 .blend written, 1 failed",
        "failed: oops: row 2: has neither audio nor text"]
    assert load_json(tmp_path / "out" / "hi.json").n_frames > 10 and (tmp_path / "out" / "hi.blend").stat().st_size > 0


@pytest.mark.skipif(not Path("/usr/bin/blender").is_file(), reason="no Debian Blender")
def test_headless_script_failure_exits_non_zero_with_one_line(tmp_path):
    missing = tmp_path / "missing.wav"
    done = subprocess.run(["/usr/bin/blender", "-b", "--factory-startup", "--python", REPO / "blender_addon" / "batch.py",
                           "--", "--audio", missing, "--out", tmp_path / "x.blend"], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("mouthpiece: error:")]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "x.blend").exists()
