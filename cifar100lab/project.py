"""The folder a notebook's relative paths (``runs``, ``data``, ``book/generated``, ``benchmarks/records``) mean:
the project's. Papermill (a campaign) and ``make lab`` start a notebook's kernel there; Jupyter opened on a
notebook starts it in the notebook's own folder, ``notebooks/``, where those paths would find nothing, or make a
second ``data/`` and ``runs/`` of their own."""
from __future__ import annotations

import os
from pathlib import Path

# What the project's folder holds (the notebooks' folder among them).
PROJECT_MARKERS = ("params", "notebooks", "_config.yml")


def enter_project() -> None:
    """Move from the project's ``notebooks/`` folder to the project's, saying so; anywhere else (the project
    itself, a campaign's working folder, a user's own folder for an installed package) nothing changes. (Nothing
    is returned: the call ends its cell, whose value a notebook would show.)"""
    cwd = Path.cwd()
    root = cwd.parent
    if cwd.name == "notebooks" and all((root / marker).exists() for marker in PROJECT_MARKERS):
        os.chdir(root)
        print(f"Working folder: {root} (the project's: runs/, data/ and book/ are read and written there)")
