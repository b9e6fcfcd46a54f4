"""Torch-free inference for the exported default models (numpy only), usable inside Blender."""
