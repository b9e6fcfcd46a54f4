"""Model families, one module each; every module exposes FAMILY (see training.registry)."""
