"""installer/entry.py answers the forms the host uses to start itself again (``-m MODULE``, ``-c CODE``) and is
the CLI otherwise; the packaged app runs it as its program, here it runs from source."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ENTRY = Path(__file__).parents[2] / "installer" / "entry.py"


def _entry(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ENTRY), *args], capture_output=True, text=True, timeout=60)


def test_dash_m_runs_a_module_as_main_with_its_arguments():
    done = _entry("-m", "workbench", "--version")
    assert done.returncode == 0 and done.stdout.startswith("workbench 0.")


def test_dash_c_runs_code_with_its_arguments():
    done = _entry("-c", "import sys; print(__name__, sys.argv[1:])", "a", "b")
    assert done.stdout.strip() == "__main__ ['a', 'b']"


def test_anything_else_is_the_command_line():
    done = _entry("--version")
    assert done.returncode == 0 and "(source)" in done.stdout
    assert _entry("no-such-command").returncode == 2
