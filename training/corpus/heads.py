"""The corpus's faces as .blend files: identity 0 is the shipped head; any other is built once into the
corpus folder (heads/) by assets/build_head.py's own code, and reused by every later utterance."""
from __future__ import annotations

import sys
from pathlib import Path

HEADS_FOLDER = "heads"
ASSETS = Path(__file__).resolve().parents[2] / "assets"
DEFAULT_BLEND = ASSETS / "head.blend"


def _assets_importable() -> None:
    if str(ASSETS) not in sys.path:
        sys.path.insert(0, str(ASSETS))


def head_builder():
    """assets/build_head.py as a module (it needs bpy)."""
    _assets_importable()
    import build_head

    return build_head


def head_scene():
    """assets/head/scene.py: the camera the heads are built with (it needs bpy)."""
    _assets_importable()
    from head import scene

    return scene


def landmarks_path(blend: Path) -> Path:
    """The landmark table written next to a head .blend (head.blend -> head_landmarks.npz)."""
    return blend.with_name(f"{blend.stem}_landmarks.npz")


def identity_blend(root: Path, identity: int) -> Path:
    """The .blend of `identity` for a corpus in `root`, built now if no earlier build left it there."""
    if identity == 0:
        return DEFAULT_BLEND
    builder = head_builder()
    options = builder.BuildOptions(out_dir=Path(root) / HEADS_FOLDER, identity=identity)
    blend, table = options.paths()
    if not (blend.is_file() and table.is_file()):  # the table is written last
        options.out_dir.mkdir(parents=True, exist_ok=True)
        builder.write_outputs(options)
    return blend
