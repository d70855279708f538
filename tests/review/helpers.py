"""Helpers for the review-tool tests: an editable copy of an example spec in a temp folder."""
from __future__ import annotations

import shutil
from pathlib import Path

from testkit import ROOT


def copy_example(dest: Path, name: str = "fraud_detection") -> Path:
    """Copy specs/<name>.mlspec and its script folder into `dest`; returns the spec's path."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "specs" / f"{name}.mlspec", dest / f"{name}.mlspec")
    if (ROOT / "specs" / name).is_dir():
        shutil.copytree(ROOT / "specs" / name, dest / name, dirs_exist_ok=True)
    return dest / f"{name}.mlspec"


def edited(src: Path, dest: Path, *pairs: tuple[str, str]) -> Path:
    """A copy of the spec at `src` (with its scripts) at `dest`, each (old, new) replaced once."""
    new = copy_example(dest, src.stem)
    text = src.read_text()
    for old, repl in pairs:
        assert old in text, old
        text = text.replace(old, repl, 1)
    new.write_text(text)
    return new
