"""Where the default head's camera stands and what it looks at (Blender world, metres). Numpy-free and
bpy-free, so software renderers frame the head the way the .blend does."""
CAMERA_LOCATION = (0.0, -0.54, 0.004)
CAMERA_TARGET = (0.0, 0.0, -0.014)
CAMERA_LENS_MM = 85.0
RESOLUTION = (512, 512)
