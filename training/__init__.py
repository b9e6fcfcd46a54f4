"""Mouthpiece training: corpus building, dataset adapters, the shared trainer and model families."""
