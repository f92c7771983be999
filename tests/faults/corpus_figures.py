"""Print the fault corpus's figures (the tables in docs/reliability.md): every case run as the tests run it,
counted per reader and per fault.

    python tests/faults/corpus_figures.py            # the default-run cases
    python tests/faults/corpus_figures.py --slow     # also the 64 MiB garbage file of each reader

Exits 1 when any case is not handled or changed the folder it read, listing those cases.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from fault_corpus import GENERIC, cases, run_case  # noqa: E402


def _table(title: str, rows: dict[str, Counter]) -> str:
    lines = [f"| {title} | cases | handled | nothing changed |", "|---|---:|---:|---:|"]
    for key, count in rows.items():
        lines.append(f"| {key} | {count['cases']} | {count['handled']} | {count['intact']} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", action="store_true", help="include the 64 MiB garbage file of each reader")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    chosen = [c for c in cases(include_slow=True) if args.slow or not c.slow]
    by_reader: dict[str, Counter] = {}
    by_fault: dict[str, Counter] = {}
    failures = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(chosen):
            with contextlib.redirect_stdout(io.StringIO()):
                outcome = run_case(case, Path(tmp) / str(i))
            for table, key in ((by_reader, case.reader.name), (by_fault, case.fault)):
                count = table.setdefault(key, Counter())
                count.update(cases=1, handled=int(outcome.handled), intact=int(outcome.intact))
            if not (outcome.handled and outcome.intact):
                failures.append(f"{case.id}: {outcome.message}")
    order = [*GENERIC, *sorted(set(by_fault) - set(GENERIC))]
    total = Counter()
    for count in by_reader.values():
        total.update(count)
    print(_table("reader", by_reader))
    print()
    print(_table("fault", {f: by_fault[f] for f in order if f in by_fault}))
    print()
    print(f"{total['cases']} cases over {len(by_reader)} readers and {len(by_fault)} kinds of fault: "
          f"{total['handled']} handled, {total['intact']} left the folder unchanged "
          f"({time.perf_counter() - t0:.0f} s)")
    for line in failures:
        print(f"NOT HANDLED {line}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
