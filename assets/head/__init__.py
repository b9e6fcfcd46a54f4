"""Procedural construction of the default head: geometry, shape keys, landmarks and the Blender scene."""
