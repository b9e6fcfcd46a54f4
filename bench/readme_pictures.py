"""The README's pictures: the Mouthpiece panel in a real Blender window, and a frame of the talking head.

    .venv/bin/python bench/readme_pictures.py [--out out/readme]

Needs Debian's `blender` (3.4) and `xvfb-run` for the panel (a real window under Xvfb), and the bpy
module in this Python for the render. Writes panel.png, talking_head.png and talking_head.mp4.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "tests" / "addon_scripts"
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from blender_fixtures import build_addon_zip  # noqa: E402

LINE = "Bob made a map of the moon, and we all went to see it."
NO_SPLASH = "import bpy; bpy.context.preferences.view.show_splash = False; bpy.ops.wm.save_userpref()"


def run(command: list, **kwargs) -> None:
    done = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=600, **kwargs)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, command))}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")


def panel_screenshot(out: Path, work: Path) -> None:
    env = dict(os.environ, BLENDER_USER_SCRIPTS=str(work / "scripts"), BLENDER_USER_CONFIG=str(work / "config"))
    run(["blender", "-b", "--factory-startup", "--python-expr", NO_SPLASH], env=env)
    run(["xvfb-run", "-a", "-s", "-screen 0 1200x800x24", "blender", "--window-geometry", "0", "0", "1200", "800",
         "--python", SCRIPTS / "panel_screenshot.py", "--", build_addon_zip(work), sys.executable, out], env=env)


WIDEST_JAW = """import sys, bpy
bpy.ops.wm.open_mainfile(filepath=sys.argv[1])
key = next(o for o in bpy.data.objects if o.type == "MESH" and o.data.shape_keys).data.shape_keys
curve = next(c for c in key.animation_data.action.fcurves if '"JawOpen"' in c.data_path)
print("FRAME", int(max(curve.keyframe_points, key=lambda p: p.co[1]).co[0]))
"""


def widest_jaw_frame(blend: Path) -> int:
    done = subprocess.run([sys.executable, "-c", WIDEST_JAW, str(blend)], capture_output=True, text=True, timeout=300)
    return int(next(line.split()[1] for line in done.stdout.splitlines() if line.startswith("FRAME")))


def talking_head(out_png: Path, out_video: Path, work: Path) -> None:
    """Render the line with `mouthpiece render`, and keep the frame where the mouth opens widest."""
    blend = work / "talk.blend"
    run([sys.executable, "-m", "blender_addon.render", "--text", LINE, "--out-blend", blend,
         "--out-video", out_video, "--resolution", "384", "--overwrite"], cwd=ROOT)
    frame = widest_jaw_frame(blend) - 1  # the video starts at the scene's first frame, 1
    run(["ffmpeg", "-y", "-loglevel", "error", "-i", out_video, "-vf", f"select=eq(n\\,{frame})",
         "-frames:v", "1", out_png])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "readme")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mouthpiece-readme-") as folder:
        panel_screenshot(args.out / "panel.png", Path(folder))
        talking_head(args.out / "talking_head.png", args.out / "talking_head.mp4", Path(folder))
    for name in ("panel.png", "talking_head.png", "talking_head.mp4"):
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
