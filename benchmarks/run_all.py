"""Every figure of the performance table in one run: figure, measured ratio, goal, pass/fail, machine facts.

    python benchmarks/run_all.py [--quick] [--markdown] [--update-readme] [--only startup,tta_cost]

Each figure comes from the ``measure(quick)`` of the script that measures it (``startup.py``,
``gui_startup.py``, ...), so the table and the scripts never disagree. Ratios are interleaved medians
of paths measured side by side; ``--quick`` takes fewer repeats (a few minutes on 2 cores).
``--update-readme`` rewrites the block between the ``bench:begin``/``bench:end`` markers of README.md.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN, END = "<!-- bench:begin (benchmarks/run_all.py --update-readme) -->", "<!-- bench:end -->"


def _times(value: float) -> str:
    return f"{value:.2f}x"


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _plain(value: float) -> str:
    return f"{value:.4f}"


def _seconds(value: float) -> str:
    return f"{value:.0f} s"


@dataclass(frozen=True)
class Figure:
    """One row: the script that measures it, the key of its ``measure`` result, the goal (an upper bound)."""

    label: str
    script: str
    key: str
    goal: float
    show: Callable[[float], str] = _times
    note_keys: tuple[str, ...] = ()

    def passes(self, value: float) -> bool:
        return value <= self.goal


FIGURES = (
    Figure("`workbench plugins` / `python -c pass`", "startup", "plugins / python -c pass", 5.0,
           note_keys=("plugins uncached / python -c pass",)),
    Figure("GUI first paint / an empty QMainWindow", "gui_startup", "first paint / empty window", 2.0,
           note_keys=("no listing cache / empty window",)),
    Figure("scoring pipeline / bare torch loop (digits CNN)", "ood_throughput", "pipeline / bare", 1.02),
    Figure("LAME knn / forward, batch 64", "tta_cost", "lame knn / forward", 0.05, _percent),
    Figure("LAME rbf / forward, batch 64", "tta_cost", "lame rbf / forward", 0.05, _percent),
    Figure("LAME linear / forward, batch 64", "tta_cost", "lame linear / forward", 0.05, _percent),
    Figure("CLIP4DM attribution + image map / forward (ViT-B-32)", "clipmap_cost", "attribution + map / forward",
           2.3, note_keys=("forward + backward / forward",)),
    Figure("per-word image maps, 3 words / forward", "clipmap_cost", "per-word maps / forward", 3.0),
    Figure("SC2-PCR / Open3D RANSAC-100k, 99% outliers, 1 thread each", "registration_time", "0.99 sc2pcr / ransac",
           0.5, note_keys=("0.99 sc2pcr success", "0.99 ransac success", "0.99 sc2pcr / ransac, all cores")),
    Figure("VBReg (reference: every match a seed) / RANSAC-100k, 99% outliers, 1 thread each", "registration_time",
           "0.99 vbreg / ransac", 0.5, note_keys=("0.99 vbreg success", "0.99 ransac success")),
    Figure("VBReg, SC2-PCR's seed count / RANSAC-100k, 99% outliers, 1 thread each", "registration_time",
           "0.99 vbreg-seeds / ransac", 0.5,
           note_keys=("0.99 vbreg-seeds success", "0.99 vbreg-seeds / ransac, all cores")),
    Figure("ONNX int8 / float32 time, tiny-CLIP image encoder", "onnx_int8", "clip image int8 / fp32 time", 1.0,
           note_keys=("clip image min cosine fp32 vs int8",)),
    Figure("ONNX int8 / float32 time, tiny-CLIP text encoder", "onnx_int8", "clip text int8 / fp32 time", 1.0,
           note_keys=("clip text min cosine fp32 vs int8",)),
    Figure("ONNX int8 / float32 time, digits CNN (convs stay float)", "onnx_int8", "int8 / fp32 time", 1.1,
           note_keys=("top-1 agreement",)),
    Figure("ONNX int8 digits CNN: AUROC change (MSP, energy)", "onnx_int8", "AUROC change", 0.02, _plain,
           note_keys=("fp32 AUROC msp", "int8 AUROC msp")),
    Figure("`workbench demo` wall time", "demo_time", "demo s", 40.0, _seconds, note_keys=("load average at start",)),
)


def machine_facts(torch_threads: int) -> dict[str, str]:
    """Cores, threads, library versions and device: what the ratios were measured on."""
    import onnxruntime
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpu = f"CPU ({platform.processor() or platform.machine()})"
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else cpu
    return {"cores": str(cores),
            "torch threads": f"{torch_threads} (scoring), 1 (per-method costs; registration: torch and Open3D alike)",
            "torch": torch.__version__, "onnxruntime": onnxruntime.__version__, "python": platform.python_version(),
            "device": device, "load average": " / ".join(f"{x:.1f}" for x in os.getloadavg())}


def run(scripts: list[str], quick: bool) -> dict[str, dict | str]:
    """Each script's ``measure(quick)``; a script that fails gives its error, the others still run."""
    sys.path.insert(0, str(Path(__file__).parent))
    results: dict[str, dict | str] = {}
    for script in scripts:
        t0 = time.perf_counter()
        try:
            results[script] = importlib.import_module(script).measure(quick)
        except Exception as exc:  # one figure's failure must not hide the others
            results[script] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        print(f"[run_all] {script}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    return results


def rows(results: dict[str, dict | str]) -> list[tuple[str, str, str, str, str]]:
    """(figure, measured, goal, pass/fail, note) for every figure whose script ran."""
    out = []
    for fig in FIGURES:
        if fig.script not in results:
            continue
        got = results[fig.script]
        if isinstance(got, str):
            out.append((fig.label, "error", fig.show(fig.goal), "FAIL", got[:80]))
            continue
        value = got[fig.key]
        note = ", ".join(f"{k} {got[k]:.3g}" for k in fig.note_keys if k in got)
        out.append((fig.label, fig.show(value), "<= " + fig.show(fig.goal), "pass" if fig.passes(value) else "FAIL",
                    note))
    return out


def markdown(table: list[tuple[str, ...]], facts: dict[str, str], quick: bool) -> str:
    lines = ["| figure | measured | goal | | notes |", "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in table]
    lines.append("")
    lines.append(f"Measured with `python benchmarks/run_all.py{' --quick' if quick else ''}` on "
                 + ", ".join(f"{k} {v}" for k, v in facts.items()) + ".")
    return "\n".join(lines)


def plain(table: list[tuple[str, ...]], facts: dict[str, str]) -> str:
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    head = ("figure", "measured", "goal", "")
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + "  notes"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4] for r in table]
    lines.append("")
    lines += [f"{k}: {v}" for k, v in facts.items()]
    return "\n".join(lines)


def update_readme(block: str, readme: Path = README) -> None:
    """Replace the text between the bench markers; the markers must already be in README.md."""
    text = readme.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{readme}: the markers {BEGIN!r} and {END!r} are missing")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{block}\n{END}{tail}", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a few minutes on 2 cores")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown (the README's)")
    parser.add_argument("--update-readme", action="store_true", help="rewrite README.md's performance table")
    parser.add_argument("--only", default="", help="comma-separated scripts to run (default: all)")
    args = parser.parse_args()
    scripts = list(dict.fromkeys(f.script for f in FIGURES))
    if args.only:
        wanted = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = sorted(set(wanted) - set(scripts))
        if unknown:
            raise SystemExit(f"--only: unknown script(s) {unknown}; known: {scripts}")
        scripts = [s for s in scripts if s in wanted]
    import torch

    threads = torch.get_num_threads()
    results = run(scripts, args.quick)
    table, facts = rows(results), machine_facts(threads)
    block = markdown(table, facts, args.quick)
    print(block if args.markdown else plain(table, facts))
    if args.update_readme:
        update_readme(block)


if __name__ == "__main__":
    main()
