"""Training script used by the diagnostics cases (never run)."""
