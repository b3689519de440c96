"""Installing the example third-party block package the way a user would (pip), into a private target
directory, so it is visible only to processes started with that directory on PYTHONPATH."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PLUGIN_SOURCE = Path(__file__).parent / "plugins" / "acme_blocks"


def install_acme_plugin(target: Path) -> Path:
    """pip-install the package into ``target``, building from a private copy: a build writes into its
    source directory, and test processes run side by side."""
    source = target.parent / f"{target.name}-src"
    shutil.copytree(PLUGIN_SOURCE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "--target", str(target), str(source)], check=True)
    return target


def env_with_plugin(target: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(target), env.get("PYTHONPATH")]))
    return env


def acme_registry(target: Path):
    """The block registry of a process that has the example package installed, loaded through the
    ``waymark.blocks`` entry points in this very process: the package directory is on ``sys.path`` only
    while the entry points are read (its modules stay imported), so other tests in the process still
    see a registry without it."""
    from backend.engine.registry import load_entry_points

    sys.path.insert(0, str(target))
    try:
        return load_entry_points()
    finally:
        sys.path.remove(str(target))
