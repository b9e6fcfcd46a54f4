"""Render the head's poses into one labelled contact sheet: neutral, each shape key at 1, the Rhubarb visemes.

    .venv/bin/python assets/render_preview.py [--blend assets/head.blend] [--out assets/head_contact_sheet.png]
        [--engine workbench|cycles] [--size 168] [--columns 8] [--only NAME ...]

Each pose becomes one frame of a temporary animation, so the whole sheet is one render job.
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ASSETS = Path(__file__).resolve().parent
sys.path.insert(0, str(ASSETS.parent))

import bpy  # noqa: E402

from backend.errors import InputError, MouthpieceError  # noqa: E402
from backend.fileio import atomic_path  # noqa: E402
from backend.rig import FACEWAREHOUSE_46, RHUBARB_VISEMES  # noqa: E402

HEAD_NAME = "MouthpieceHead"
ENGINES = {"workbench": "BLENDER_WORKBENCH", "cycles": "CYCLES"}
FACE_BORDER = (0.14, 0.86, 0.07, 0.89)  # min x, max x, min y, max y of the camera frame (y from the bottom)


@dataclass(frozen=True)
class PreviewOptions:
    blend: Path = ASSETS / "head.blend"
    out: Path = ASSETS / "head_contact_sheet.png"
    engine: str = "workbench"
    size: int = 168  # width of a cell in pixels (the face's crop of the camera frame)
    columns: int = 8
    samples: int = 16  # Cycles only
    only: tuple[str, ...] = field(default=())  # pose labels to render; empty renders them all


def poses() -> list[tuple[str, dict[str, float]]]:
    """(label, {shape key: weight}) for the neutral face, every key at 1 and every viseme."""
    listing = [("neutral", {})]
    listing += [(name, {name: 1.0}) for name in FACEWAREHOUSE_46]
    listing += [(f"viseme {name}", pose) for name, pose in RHUBARB_VISEMES.items() if pose]
    return listing


def open_head(path: Path) -> bpy.types.Object:
    if not path.is_file():
        raise InputError(path, "file not found")
    bpy.ops.wm.open_mainfile(filepath=str(path))
    head = bpy.data.objects.get(HEAD_NAME)
    if head is None or head.data.shape_keys is None:
        raise InputError(path, f"no {HEAD_NAME} mesh with shape keys")
    return head


def keyframe_poses(head: bpy.types.Object, listing) -> None:
    blocks = head.data.shape_keys.key_blocks
    for frame, (_, pose) in enumerate(listing, start=1):
        for name in FACEWAREHOUSE_46:
            blocks[name].value = pose.get(name, 0.0)
            blocks[name].keyframe_insert("value", frame=frame)
    for curve in head.data.shape_keys.animation_data.action.fcurves:
        for point in curve.keyframe_points:
            point.interpolation = "CONSTANT"


def render_frames(options: PreviewOptions, count: int, folder: Path) -> list[Path]:
    scene = bpy.context.scene
    scene.render.engine = ENGINES[options.engine]
    min_x, max_x, min_y, max_y = FACE_BORDER
    scene.render.resolution_x = scene.render.resolution_y = round(options.size / (max_x - min_x))
    scene.render.use_border = scene.render.use_crop_to_border = True
    scene.render.border_min_x, scene.render.border_max_x = min_x, max_x
    scene.render.border_min_y, scene.render.border_max_y = min_y, max_y
    scene.render.image_settings.file_format = "PNG"
    scene.cycles.samples = options.samples
    scene.frame_start, scene.frame_end = 1, count
    scene.render.filepath = str(folder / "pose_####")
    bpy.ops.render.render(animation=True)
    return [folder / f"pose_{frame:04d}.png" for frame in range(1, count + 1)]


def contact_sheet(images: list[Path], labels: list[str], options: PreviewOptions) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.image import imread

    columns = min(options.columns, len(images))
    rows = -(-len(images) // columns)
    inch = options.size / 100.0
    aspect = (FACE_BORDER[3] - FACE_BORDER[2]) / (FACE_BORDER[1] - FACE_BORDER[0])
    figure, axes = plt.subplots(rows, columns, figsize=(columns * inch, rows * (inch * aspect + 0.18)), dpi=100,
                                squeeze=False)
    figure.patch.set_facecolor("#202226")
    for ax in axes.ravel():
        ax.axis("off")
    for ax, image, label in zip(axes.ravel(), images, labels):
        ax.imshow(imread(image))
        ax.set_title(label, fontsize=7.5, color="white", pad=2)
    figure.subplots_adjust(left=0.005, right=0.995, bottom=0.005, top=0.985, wspace=0.02, hspace=0.12)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor=figure.get_facecolor())
    plt.close(figure)
    with atomic_path(options.out) as tmp:
        save_small_png(buffer, tmp)


def save_small_png(png: io.BytesIO, path: Path) -> None:
    """A 256-colour palette PNG: about half the size, no visible change on these flat-shaded faces."""
    from PIL import Image

    png.seek(0)
    with Image.open(png) as image:
        palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        palette.save(path, format="PNG", optimize=True)


def render_preview(options: PreviewOptions) -> Path:
    listing = poses()
    if options.only:
        listing = [item for item in listing if item[0] in options.only]
        if not listing:
            raise InputError(None, f"none of {', '.join(options.only)} is a pose label")
    head = open_head(options.blend)
    keyframe_poses(head, listing)
    with tempfile.TemporaryDirectory(prefix="mouthpiece-preview-") as folder:
        images = render_frames(options, len(listing), Path(folder))
        contact_sheet(images, [label for label, _ in listing], options)
    return options.out


def parse_options(argv=None) -> PreviewOptions:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blend", type=Path, default=PreviewOptions.blend)
    parser.add_argument("--out", type=Path, default=PreviewOptions.out)
    parser.add_argument("--engine", choices=sorted(ENGINES), default=PreviewOptions.engine)
    parser.add_argument("--size", type=int, default=PreviewOptions.size)
    parser.add_argument("--columns", type=int, default=PreviewOptions.columns)
    parser.add_argument("--samples", type=int, default=PreviewOptions.samples)
    parser.add_argument("--only", nargs="*", default=[])
    args = parser.parse_args(argv)
    return PreviewOptions(args.blend, args.out, args.engine, args.size, args.columns, args.samples, tuple(args.only))


def main(argv=None) -> int:
    try:
        print(f"wrote {render_preview(parse_options(argv))}")
    except MouthpieceError as err:
        print(f"render_preview: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
