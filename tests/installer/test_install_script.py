"""installer/install.sh on a stand-in app (a shell program): install, upgrade in place, read-only prefix,
interrupted install, uninstall. The real frozen app goes through the same script in the slow build+smoke test."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

INSTALLER = Path(__file__).parents[2] / "installer"


def make_release(root: Path, version: str) -> Path:
    """A build folder as installer/build lays it out, with a stand-in app that prints its version."""
    release = root / f"release-{version}"
    (release / "app" / "_internal").mkdir(parents=True)
    program = release / "app" / "workbench"
    program.write_text(f'#!/bin/sh\necho "workbench {version} (test build) $*"\n')
    program.chmod(0o755)
    (release / "app" / "_internal" / "lib.so").write_bytes(b"x" * 1000)
    for name in ("install.sh", "workbench.svg", "workbench.png"):
        shutil.copy(INSTALLER / name, release / name)
    return release


def install(release: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", str(release / "install.sh"), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_install_registers_launcher_desktop_entry_and_icon(tmp_path):
    prefix = tmp_path / "prefix"
    done = install(make_release(tmp_path, "1.0"), "--prefix", str(prefix))
    assert done.returncode == 0, done.stderr
    out = subprocess.run([str(prefix / "bin" / "workbench"), "info"], capture_output=True, text=True)
    assert out.stdout.strip() == "workbench 1.0 (test build) info"
    desktop = (prefix / "share" / "applications" / "alignment-workbench.desktop").read_text()
    assert f"Exec={prefix}/bin/workbench gui" in desktop
    assert (prefix / "share/icons/hicolor/scalable/apps/alignment-workbench.svg").is_file()
    assert (prefix / "share/icons/hicolor/256x256/apps/alignment-workbench.png").is_file()
    assert (prefix / "lib/alignment-workbench/plugins").is_dir()


def test_upgrade_in_place_keeps_plugins_and_user_data(tmp_path):
    prefix, home = tmp_path / "prefix", tmp_path / "home"
    assert install(make_release(tmp_path, "1.0"), "--prefix", str(prefix)).returncode == 0
    lib = prefix / "lib" / "alignment-workbench"
    (lib / "plugins" / "my_plugin-1.0-py3-none-any.whl").write_bytes(b"wheel")
    (home / "runs").mkdir(parents=True)
    (home / "runs" / "run.json").write_text("{}")
    done = install(make_release(tmp_path, "2.0"), "--prefix", str(prefix), env={"WORKBENCH_HOME": str(home)})
    assert done.returncode == 0, done.stderr
    assert "upgraded from app-" in done.stdout
    out = subprocess.run([str(prefix / "bin" / "workbench")], capture_output=True, text=True)
    assert out.stdout.startswith("workbench 2.0")
    assert (lib / "plugins" / "my_plugin-1.0-py3-none-any.whl").read_bytes() == b"wheel"
    assert (home / "runs" / "run.json").is_file()
    assert len(list(lib.glob("app-*"))) == 1 and not list(lib.glob(".staging-*"))


@pytest.mark.parametrize("where", ["read-only", "under-a-file"])
def test_unwritable_prefix_is_a_clear_error_and_changes_nothing(tmp_path, where):
    if where == "read-only":
        prefix = Path("/sys/kernel/alignment-workbench-test")  # sysfs: nobody, root included, may create here
    else:
        (tmp_path / "file").write_text("")
        prefix = tmp_path / "file" / "prefix"
    done = install(make_release(tmp_path, "1.0"), "--prefix", str(prefix))
    assert done.returncode == 3
    assert "cannot write into" in done.stderr and "--user" in done.stderr
    assert not prefix.exists()


def test_interrupted_install_registers_nothing_and_a_rerun_completes(tmp_path):
    prefix, fake_bin = tmp_path / "prefix", tmp_path / "fake-bin"
    fake_bin.mkdir()
    # a `cp` that is interrupted half-way through copying the app (as by Ctrl-C or a closed terminal)
    (fake_bin / "cp").write_text('#!/bin/sh\nif [ "$1" = "-R" ]; then mkdir -p "$3"; : > "$3/half";'
                                 ' kill -TERM $PPID; sleep 1; exit 1; fi\nexec /bin/cp "$@"\n')
    (fake_bin / "cp").chmod(0o755)
    release = make_release(tmp_path, "1.0")
    done = install(release, "--prefix", str(prefix), env={"PATH": f"{fake_bin}:{os.environ['PATH']}"})
    assert done.returncode != 0
    lib = prefix / "lib" / "alignment-workbench"
    assert not (prefix / "bin" / "workbench").exists()
    assert not (prefix / "share" / "applications" / "alignment-workbench.desktop").exists()
    assert not (lib / "app").exists() and not list(lib.glob(".staging-*"))
    (lib / ".staging-left-by-a-killed-install").mkdir()  # what SIGKILL would leave: cleaned by the next run
    assert install(release, "--prefix", str(prefix)).returncode == 0
    assert (prefix / "share" / "applications" / "alignment-workbench.desktop").is_file()
    assert not list(lib.glob(".staging-*"))


def test_uninstall_removes_the_app_and_keeps_user_data_and_plugins(tmp_path):
    prefix, home = tmp_path / "prefix", tmp_path / "home"
    release = make_release(tmp_path, "1.0")
    assert install(release, "--prefix", str(prefix)).returncode == 0
    lib = prefix / "lib" / "alignment-workbench"
    (lib / "plugins" / "extra.whl").write_bytes(b"wheel")
    (home / "models").mkdir(parents=True)
    done = install(release, "--prefix", str(prefix), "--uninstall", env={"WORKBENCH_HOME": str(home)})
    assert done.returncode == 0, done.stderr
    assert "kept your extra plugins" in done.stdout
    assert not (prefix / "bin" / "workbench").exists()
    assert not (prefix / "share" / "applications" / "alignment-workbench.desktop").exists()
    assert not (prefix / "share/icons/hicolor/scalable/apps/alignment-workbench.svg").exists()
    assert not (lib / "app").exists() and not list(lib.glob("app-*"))
    assert (lib / "plugins" / "extra.whl").is_file() and (home / "models").is_dir()
    again = install(release, "--prefix", str(prefix), "--uninstall")
    assert again.returncode == 1 and "no Alignment Workbench installed" in again.stderr


def test_install_without_an_app_beside_the_script_says_so(tmp_path):
    release = make_release(tmp_path, "1.0")
    shutil.rmtree(release / "app")
    done = install(release, "--prefix", str(tmp_path / "prefix"))
    assert done.returncode == 1 and "no packaged app beside this script" in done.stderr
