"""`waymark --help` only prints: it writes no var/secret_key and works whatever the WAYMARK_* variables
say; a command that runs still stops on a bad variable with a message naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def waymark(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("WAYMARK_")}
    clean["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), clean.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["api", "--help"], ["worker", "--help"]])
def test_help_writes_nothing_and_ignores_bad_variables(tmp_path, args):
    result = waymark(tmp_path, *args, WAYMARK_PORT="eighty", WAYMARK_BATCH_SIZE="lots")
    assert result.returncode == 0, result.stderr
    assert "usage: waymark" in result.stdout
    assert list(tmp_path.iterdir()) == []  # no var/, no secret key


def test_a_command_that_runs_names_the_bad_variable(tmp_path):
    result = waymark(tmp_path, "migrate", WAYMARK_PORT="eighty", WAYMARK_VAR_DIR=str(tmp_path / "var"))
    assert result.returncode != 0
    assert "waymark: WAYMARK_PORT" in result.stderr
    assert "Traceback" not in result.stderr
