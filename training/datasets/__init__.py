"""Adapters that turn real audiovisual datasets on disk into the corpus format (one module each)."""
