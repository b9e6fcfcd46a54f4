"""The Blender side: mesh objects, materials, eyeballs with gaze drivers, camera and light."""
from __future__ import annotations

import math

import bpy
import numpy as np

from .camera import CAMERA_LENS_MM, CAMERA_LOCATION, CAMERA_TARGET, RESOLUTION  # noqa: F401
from .materials import MATERIALS


def empty_scene() -> bpy.types.Scene:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.name = "Mouthpiece"
    scene.unit_settings.system = "METRIC"
    scene.render.resolution_x, scene.render.resolution_y = RESOLUTION
    scene.render.fps = 30
    return scene


def material(name: str, colours: dict | None = None) -> bpy.types.Material:
    """The material `name`, made once, with its base colour from `colours` (name -> RGBA) or MATERIALS."""
    found = bpy.data.materials.get(name)
    if found:
        return found
    colour, roughness = MATERIALS[name]
    colour = tuple((colours or {}).get(name, colour))
    mat = bpy.data.materials.new(name)
    mat.diffuse_color = colour
    mat.roughness = roughness
    mat.use_nodes = True
    shader = mat.node_tree.nodes["Principled BSDF"]
    shader.inputs["Base Color"].default_value = colour
    shader.inputs["Roughness"].default_value = roughness
    if name == "Skin":
        weight = "Subsurface Weight" if "Subsurface Weight" in shader.inputs else "Subsurface"  # Blender < 4.0
        shader.inputs[weight].default_value = 0.08
        shader.inputs["Subsurface Radius"].default_value = (0.01, 0.004, 0.002)
    return mat


def mesh_object(name: str, positions: np.ndarray, faces, material_index: np.ndarray,
                material_names, collection, colours: dict | None = None) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(positions.tolist(), [], [tuple(f) for f in faces])
    mesh.validate()
    for mat_name in material_names:
        mesh.materials.append(material(mat_name, colours))
    mesh.polygons.foreach_set("material_index", np.asarray(material_index, np.int32))
    mesh.polygons.foreach_set("use_smooth", np.ones(len(mesh.polygons), dtype=bool))  # any Blender from 3.4
    mesh.update()
    obj = bpy.data.objects.new(name, mesh)
    collection.objects.link(obj)
    return obj


def add_subdivision(obj: bpy.types.Object, levels: int = 1) -> None:
    modifier = obj.modifiers.new("Subdivision", "SUBSURF")
    modifier.levels = levels
    modifier.render_levels = levels


def add_eyeball(name: str, centre, radius: float, parent, collection,
                colours: dict | None = None) -> bpy.types.Object:
    """A sphere whose local -Y axis is the gaze, with sclera, iris and pupil by angle from it."""
    segments, rings = 32, 28
    polar = np.linspace(0.0, math.pi, rings + 1)  # 0 at the pupil (-Y)
    azimuth = np.linspace(0.0, 2 * math.pi, segments, endpoint=False)
    points = [(0.0, -radius, 0.0)]
    for p in polar[1:-1]:
        bulge = radius * (1.0 + 0.025 * max(0.0, math.cos(p)) ** 8)  # a slight cornea
        points += [(bulge * math.sin(p) * math.cos(a), -bulge * math.cos(p), bulge * math.sin(p) * math.sin(a))
                   for a in azimuth]
    points.append((0.0, radius, 0.0))
    faces, kinds = [], []
    ring_start = lambda r: 1 + (r - 1) * segments  # noqa: E731
    for a in range(segments):
        faces.append((0, ring_start(1) + (a + 1) % segments, ring_start(1) + a))
        kinds.append(2)
    for r in range(1, rings - 1):
        for a in range(segments):
            b = (a + 1) % segments
            faces.append((ring_start(r) + a, ring_start(r) + b, ring_start(r + 1) + b, ring_start(r + 1) + a))
            middle = polar[r] + 0.5 * (polar[1] - polar[0])
            kinds.append(2 if middle < 0.19 else 1 if middle < 0.50 else 0)
    last = len(points) - 1
    for a in range(segments):
        faces.append((ring_start(rings - 1) + a, ring_start(rings - 1) + (a + 1) % segments, last))
        kinds.append(0)
    obj = mesh_object(name, np.array(points), faces, np.array(kinds), ("Sclera", "Iris", "Pupil"), collection,
                      colours)
    obj.location = centre
    obj.rotation_mode = "XYZ"
    obj.parent = parent
    return obj


def drive_gaze(eye: bpy.types.Object, head: bpy.types.Object, side: str) -> None:
    """Eyeball rotation follows the head's EyeUp/Down/In/Out keys of its side (simple expressions, no scripts)."""
    toward_plus_x = ("EyeOut_L", "EyeIn_L") if side == "L" else ("EyeIn_R", "EyeOut_R")
    axes = {0: ("EyeDown_" + side, "EyeUp_" + side, 0.38), 2: (*toward_plus_x, 0.42)}
    for axis, (positive, negative, gain) in axes.items():
        curve = eye.driver_add("rotation_euler", axis)
        driver = curve.driver
        driver.type = "SCRIPTED"
        for var_name, key in (("p", positive), ("n", negative)):
            var = driver.variables.new()
            var.name = var_name
            var.type = "SINGLE_PROP"
            var.targets[0].id_type = "KEY"
            var.targets[0].id = head.data.shape_keys
            var.targets[0].data_path = f'key_blocks["{key}"].value'
        driver.expression = f"(p - n) * {gain}"


def add_camera_and_light(scene: bpy.types.Scene, target, collection) -> bpy.types.Object:
    cam_data = bpy.data.cameras.new("FaceCamera")
    cam_data.lens = CAMERA_LENS_MM
    cam_data.sensor_width = 36.0
    cam_data.clip_start, cam_data.clip_end = 0.05, 10.0
    camera = bpy.data.objects.new("FaceCamera", cam_data)
    camera.location = CAMERA_LOCATION
    aim(camera, target)
    collection.objects.link(camera)
    scene.camera = camera

    for name, location, energy, size in (("KeyLight", (-0.32, -0.62, 0.30), 3.2, 0.45),
                                         ("FillLight", (0.55, -0.5, 0.0), 1.8, 0.7),
                                         ("RimLight", (0.35, 0.6, 0.4), 3.0, 0.3)):
        light_data = bpy.data.lights.new(name, "AREA")
        light_data.energy, light_data.size = energy, size
        light = bpy.data.objects.new(name, light_data)
        light.location = location
        aim(light, (0.0, 0.0, 0.0))
        collection.objects.link(light)
    return camera


def aim(obj: bpy.types.Object, target) -> None:
    from mathutils import Vector

    direction = Vector(target) - obj.location
    obj.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()


def setup_render(scene: bpy.types.Scene) -> None:
    world = bpy.data.worlds.new("Studio")
    world.color = (0.05, 0.055, 0.06)
    world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.05, 0.055, 0.06, 1.0)
    scene.world = world
    scene.render.engine = "BLENDER_WORKBENCH"
    shading = scene.display.shading
    shading.light = "STUDIO"
    shading.color_type = "MATERIAL"
    shading.show_cavity = False
    scene.cycles.samples = 32
    scene.cycles.device = "CPU"
    scene.view_settings.view_transform = "Standard"


def camera_matrices(scene: bpy.types.Scene, camera: bpy.types.Object) -> tuple[np.ndarray, np.ndarray]:
    """(world -> camera in OpenCV axes [4, 4], pinhole intrinsics in pixels [3, 3])."""
    world_to_blender_camera = np.array(camera.matrix_world.inverted())
    blender_to_opencv = np.diag([1.0, -1.0, -1.0, 1.0])
    width, height = scene.render.resolution_x, scene.render.resolution_y
    focal = camera.data.lens / camera.data.sensor_width * width  # sensor fit: horizontal (square image)
    intrinsics = np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])
    return blender_to_opencv @ world_to_blender_camera, intrinsics
