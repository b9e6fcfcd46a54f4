"""Inside any Blender: open a head .blend and write its shape keys and landmark property to an .npz.

    blender -b HEAD.blend --python read_head.py -- OUT.npz [OBJECT]
"""
import sys

import bpy
import numpy as np


def main(out_path: str, name: str = "MouthpieceHead") -> None:
    head = bpy.data.objects[name]
    blocks = head.data.shape_keys.key_blocks
    coords = []
    for block in blocks:
        flat = np.empty(len(block.data) * 3, dtype=np.float32)
        block.data.foreach_get("co", flat)
        coords.append(flat.reshape(-1, 3))
    np.savez(out_path, names=np.array([b.name for b in blocks]), coords=np.array(coords),
             landmarks=np.array(list(head["mouthpiece_landmarks"]), dtype=np.int64),
             version=np.array(bpy.app.version))


main(*sys.argv[sys.argv.index("--") + 1:])
