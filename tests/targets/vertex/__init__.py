"""Vertex AI target tests (package `targets.vertex`, so no module name shadows another target's)."""
