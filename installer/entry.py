"""The packaged app's entry point: the ``workbench`` command, and ``-m MODULE`` / ``-c CODE`` like a Python.

The host starts subprocesses as ``sys.executable -m workbench.core.worker RUN_DIR`` (task workers) and
``sys.executable -c PROBE`` (the GUI's device probe). In the frozen app ``sys.executable`` is this program, so it
answers those two forms itself; everything else is the normal command line.
"""

import multiprocessing
import runpy
import sys


def main() -> None:
    multiprocessing.freeze_support()
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "-m":
        sys.argv = [args[1], *args[2:]]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    elif len(args) >= 2 and args[0] == "-c":
        sys.argv = ["-c", *args[2:]]
        exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__"})
    else:
        from workbench.cli import main as cli_main

        sys.exit(cli_main())


if __name__ == "__main__":
    main()
