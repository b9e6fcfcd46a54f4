"""`mouthpiece score`: the lip-sync expert's verdict on a take (see backend/score.py)."""
from __future__ import annotations

import argparse
import json
import sys

from .errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--animation", help="the take: Animation JSON (shape-key weights)")
    parser.add_argument("--audio", required=True, help="the take's audio (anything ffmpeg decodes)")
    parser.add_argument("--blend", help="score a head in a .blend instead of the default head (needs bpy)")
    parser.add_argument("--object", help="with --blend: the mesh object with the shape keys")
    parser.add_argument("--expert", help="lip-sync expert checkpoint (default: the shipped one)")
    parser.add_argument("--max-shift", type=int, default=15, help="offsets searched, in 25 fps frames (1 to 50)")
    parser.add_argument("--curve", help="write the per-second confidence curve to this PNG")
    parser.add_argument("--json", help="write the score as JSON here")
    parser.add_argument("--fixed-out", help="write the animation shifted by the found offset here (JSON)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")


def run(args: argparse.Namespace) -> int:
    from .animation import load_json, save_json
    from .audio import load_audio
    from .facemesh import default_head_mesh
    from .facerender import Camera
    from .headmodel import load as load_head_model
    from .outputs import check_output
    from .runtime.sync_expert import SyncExpert
    from .score import find_expert, score_animation, shifted, write_curve_png

    if not 1 <= args.max_shift <= 50:
        raise InputError(None, f"--max-shift must be 1 to 50, not {args.max_shift}")
    for path, suffixes in ((args.curve, (".png",)), (args.json, (".json",)), (args.fixed_out, (".json",))):
        if path:
            check_output(path, args.overwrite, suffixes)
    if args.blend:
        mesh, camera, anim = blend_take(args.blend, args.object, args.animation)
    elif args.animation:
        anim = load_json(args.animation)
        mesh, head = default_head_mesh(), load_head_model()
        camera = Camera(head.world_to_camera, head.intrinsics)
    else:
        raise InputError(None, "give --animation (a take for the default head) or --blend with --object")
    expert = SyncExpert.load(find_expert(args.expert))
    score = score_animation(anim, load_audio(args.audio), mesh, camera, expert, args.max_shift)
    print(score.summary())
    if args.json:
        from .fileio import write_text_atomic

        write_text_atomic(args.json, json.dumps(score.to_dict(), indent=2) + "\n")
    if args.curve:
        write_curve_png(score, args.curve)
    if args.fixed_out:
        save_json(shifted(anim, -score.offset_frames), args.fixed_out, overwrite=args.overwrite)
    return 0


def blend_take(blend: str, object_name: str | None, animation: str | None):
    """(mesh, camera, animation) from a .blend: the object's shape keys and action (or --animation)."""
    import importlib.util

    if importlib.util.find_spec("bpy") is None:  # the add-on's module imports it; backend never does
        print("mouthpiece: error: --blend needs Blender as a Python module (pip install -e '.[blender]')",
              file=sys.stderr)
        raise SystemExit(1)
    from blender_addon.backend.errors import MouthpieceError as AddonError  # the add-on's copy of backend
    from blender_addon.score_mesh import take_from_blend

    try:
        return take_from_blend(blend, object_name, animation)
    except AddonError as err:
        raise InputError(None, str(err)) from None
