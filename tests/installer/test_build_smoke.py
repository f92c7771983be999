"""The packaged build end to end: installer/build freezes this environment, installer/smoke installs and runs it.

Slow (a PyInstaller build of torch takes many minutes): run with ``-m slow``, or ``WORKBENCH_CI_INSTALLER=1
.ci/run``. The flavour follows this environment's torch (``cuda`` for a CUDA build, else ``cpu``) unless
``WORKBENCH_BUILD_FLAVOUR`` says; ``WORKBENCH_BUILD_OUT`` keeps the build somewhere (default: a temporary folder).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

INSTALLER = Path(__file__).parents[2] / "installer"


@pytest.mark.slow
@pytest.mark.timeout(5400)
def test_build_then_smoke_the_installed_app(tmp_path):
    pytest.importorskip("PyInstaller", reason="pip install pyinstaller to build the packaged app")
    import torch

    flavour = os.environ.get("WORKBENCH_BUILD_FLAVOUR") or ("cuda" if torch.version.cuda else "cpu")
    out = Path(os.environ.get("WORKBENCH_BUILD_OUT") or tmp_path / "dist")
    subprocess.run([str(INSTALLER / "build"), flavour, "--python", sys.executable, "--out", str(out)], check=True)
    release = next(p for p in out.iterdir() if p.is_dir() and p.name.endswith(f"-{flavour}"))
    smoke = subprocess.run([str(INSTALLER / "smoke"), str(release)], capture_output=True, text=True)
    print(smoke.stdout[-4000:], smoke.stderr[-4000:])
    assert smoke.returncode == 0
    assert f"SMOKE PASSED: {flavour} build" in smoke.stdout
