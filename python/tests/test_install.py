"""The wheel installs the binary beside the interpreter: ``psychrnn`` on the venv's PATH and
``python -m psychrnn_rs`` both run it. (Skipped when PSYCHRNN_BIN points at a dev build.)"""

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import psychrnn_rs as pr

installed = pytest.mark.skipif(
    bool(os.environ.get("PSYCHRNN_BIN")), reason="PSYCHRNN_BIN overrides the installed binary"
)


@installed
def test_the_binary_sits_in_the_interpreters_scripts_folder():
    found = Path(pr.find_psychrnn())
    assert found.parent == Path(sysconfig.get_path("scripts"))
    version = subprocess.run([str(found), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == "psychrnn 0.1.0"


@installed
def test_python_dash_m_runs_the_same_binary():
    out = subprocess.run([sys.executable, "-m", "psychrnn_rs", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "psychrnn 0.1.0"


def test_a_missing_override_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("PSYCHRNN_BIN", str(tmp_path / "nothing"))
    with pytest.raises(pr.PsychrnnError, match=r"PSYCHRNN_BIN=.*nothing is not a file"):
        pr.find_psychrnn()
