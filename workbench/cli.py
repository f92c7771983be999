"""The headless entry point: ``workbench plugins | info | run | rerun | batch | demo | report | export-onnx | gui``.

Imports stay inside the commands so ``workbench --help`` and ``workbench plugins`` never load torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _progress_printer(label: str):
    """Progress as a tqdm bar on a terminal, plain lines in logs."""
    from workbench.core.runner import RunEvent

    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=100, desc=label, unit="%", leave=True, bar_format="{desc} {percentage:3.0f}%|{bar}| {postfix}")
    last = {"line": ""}

    def on_event(event: RunEvent) -> None:
        if event.kind == "progress":
            pct = int(round(100 * (event.fraction or 0)))
            if bar is not None:
                bar.n = pct
                bar.set_postfix_str(event.message[:60])
            else:
                line = f"[{label}] {pct:3d}% {event.message}"
                if line != last["line"]:
                    print(line, file=sys.stderr, flush=True)
                    last["line"] = line
        elif event.kind == "state" and event.state in ("completed", "failed", "cancelled") and bar is not None:
            bar.n = 100 if event.state == "completed" else bar.n
            bar.close()

    return on_event


def _runner(out: str | None):
    from workbench.core.runner import Runner
    from workbench.core.runstore import RunStore

    return Runner(store=RunStore(Path(out)) if out else None)


def _print_record(record, run_dir: Path) -> None:
    print(f"{record.state.value}: {record.task} ({record.resolved_backend}, {record.duration_s:.2f} s) -> {run_dir}")
    if record.error:
        print(f"error: {record.error}", file=sys.stderr)
        if record.traceback:
            print(f"traceback: {run_dir / 'log.txt'}", file=sys.stderr)


def _execute(runner, job):
    """Execute a prepared job with progress on stderr and print its outcome; None when the user pressed Ctrl-C."""
    try:
        record = runner.execute(job, _progress_printer(job.record.task))
    except KeyboardInterrupt:
        print(f"cancelled: {job.run_dir}", file=sys.stderr)
        return None
    _print_record(record, job.run_dir)
    return record


def cmd_plugins(args) -> int:
    from workbench.core.plugins import get_host

    host = get_host()
    if args.json:
        doc = []
        for info in host.plugins.values():
            tasks = [host.registry.tasks[t] for t in info.tasks]
            doc.append({
                "name": info.name, "module": info.module, "version": info.version, "status": info.status,
                "error": info.error, "traceback": info.traceback,
                "tasks": [{"id": t.id, "title": t.title, "family": t.family.value, "backends": list(t.backends),
                           "execution": t.execution} for t in tasks],
            })
        print(json.dumps(doc, indent=1))
        return 0
    print(f"{'plugin':<16} {'version':<9} {'status':<9} tasks")
    for info in host.plugins.values():
        tasks = ", ".join(info.tasks) or ("-" if info.status == "loaded" else info.error)
        print(f"{info.name:<16} {info.version:<9} {info.status:<9} {tasks}")
    print()
    print(f"{'task':<30} {'family':<30} {'execution':<9} backends")
    for spec in sorted(host.registry.tasks.values(), key=lambda s: (s.family.value, s.id)):
        print(f"{spec.id:<30} {spec.family.title:<30} {spec.execution:<9} {', '.join(spec.backends)}")
    return 0


def cmd_info(args) -> int:
    from workbench.core.devices import describe

    info = describe()
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    print(f"python {info['python']} on {info['platform']}")
    for name, value in info["packages"].items():
        print(f"  {name:<22} {value}")
    torch_info, ort_info = info["torch"], info["onnxruntime"]
    print(f"torch: {json.dumps(torch_info)}")
    print(f"onnxruntime: {json.dumps(ort_info)}")
    backends = ["torch-cpu"]
    if torch_info.get("cuda_devices"):
        backends.append("torch-cuda")
    if "version" in ort_info:
        backends.append("onnx-cpu")
        if ort_info.get("cuda_usable"):
            backends.append("onnx-cuda")
    print(f"usable backends: {', '.join(backends)}")
    return 0


def cmd_run(args) -> int:
    from workbench.core.params import parse_assignments
    from workbench.core.runner import RunRequest

    runner = _runner(args.out)
    request = RunRequest(task=args.task, params=parse_assignments(args.set or []), backend=args.backend,
                         device=args.device, seed=args.seed, execution=args.execution)
    job = runner.prepare(request)
    record = _execute(runner, job)
    if record is None:
        return 130
    if args.report and record.results:
        from workbench.render.report import build_report

        print(f"report: {build_report([job.run_dir], job.run_dir / 'report', title=record.task)}")
    return 0 if record.state.value == "completed" else 1


def cmd_rerun(args) -> int:
    from workbench.core.runner import RunRequest
    from workbench.core.runstore import RunStore

    record = RunStore.load(Path(args.run_dir))
    runner = _runner(args.out)
    new = _execute(runner, runner.prepare(RunRequest(**record.request(), execution=record.execution)))
    if new is None:
        return 130
    return 0 if new.state.value == "completed" else 1


def run_batch(recipe_path: Path, out: Path | None, keep_going: bool, shard_spec: str | None,
              report: bool, title: str | None = None) -> tuple[int, Path | None]:
    """Run a recipe's steps in order; returns (exit code, report path). Shared by ``batch`` and ``demo``."""
    import datetime as dt
    import shutil

    from workbench.core import paths
    from workbench.core.plugins import get_host
    from workbench.core.recipes import load_recipe, shard
    from workbench.core.runner import Runner
    from workbench.core.runstore import RunStore

    recipe = load_recipe(recipe_path, get_host().registry)
    steps = shard(recipe.steps, shard_spec) if shard_spec else recipe.steps
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    batch_dir = out or (paths.home() / "batches" / f"{stamp}-{recipe.name}")
    batch_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(recipe_path, batch_dir / "recipe.yaml")
    runner = Runner(store=RunStore(batch_dir / "runs"))
    summary, run_dirs, failed = [], [], False
    for i, request in enumerate(steps, start=1):
        label = request.recipe_step or request.task
        if failed and not keep_going:
            summary.append((label, request.task, "skipped", 0.0, ""))
            continue
        print(f"== step {i}/{len(steps)}: {label}", file=sys.stderr)
        try:
            job = runner.prepare(request)
            record = runner.execute(job, _progress_printer(label))
        except KeyboardInterrupt:
            print("batch cancelled", file=sys.stderr)
            return 130, None
        except Exception as exc:
            summary.append((label, request.task, "failed", 0.0, str(exc)))
            failed = True
            continue
        run_dirs.append(job.run_dir)
        summary.append((label, request.task, record.state.value, record.duration_s, record.error))
        failed = failed or record.state.value != "completed"
    print(f"\n{'step':<34} {'task':<28} {'state':<10} {'time':>8}  error")
    for label, task, state, secs, err in summary:
        print(f"{label[:34]:<34} {task:<28} {state:<10} {secs:>7.1f}s  {err[:80]}")
    index = None
    if report and run_dirs:
        from workbench.render.report import build_report

        index = build_report(run_dirs, batch_dir / "report", title=title or f"Batch: {recipe.name}")
        print(f"\nreport: {index}")
    print(f"batch folder: {batch_dir}")
    return (1 if failed else 0), index


def cmd_batch(args) -> int:
    code, _ = run_batch(Path(args.recipe), Path(args.out) if args.out else None, args.keep_going, args.shard,
                        not args.no_report)
    return code


def cmd_demo(args) -> int:
    from workbench.core import paths

    recipe = paths.resources_dir() / "recipes" / "demo.yaml"
    code, index = run_batch(recipe, Path(args.out) if args.out else None, keep_going=True, shard_spec=None,
                            report=True, title="Alignment Workbench demo")
    if index is not None:
        print(f"\nOpen the demo report: {index}")
    return code


def cmd_report(args) -> int:
    from workbench.render.report import build_report

    run_dirs = [Path(p) for p in args.run_dirs]
    out = Path(args.out) if args.out else run_dirs[0] / "report"
    print(build_report(run_dirs, out))
    return 0


def cmd_export_onnx(args) -> int:
    from workbench.core import paths
    from workbench.core.plugins import get_host
    from workbench.core.specs import resolve_entry

    cards = get_host().registry.model_cards
    card = cards.get(args.model)
    if card is None:
        print(f"unknown model {args.model!r}; zoo models: {', '.join(sorted(cards)) or 'none'}", file=sys.stderr)
        return 2
    if not card.exporter:
        print(f"model {card.id!r} declares no ONNX exporter", file=sys.stderr)
        return 2
    weights = Path(args.weights) if args.weights else paths.models_dir() / card.weights
    report = resolve_entry(card.exporter)(weights, Path(args.out))
    print(f"exported {card.id} -> {report.path} ({report.exporter}, opset {report.opset}); "
          f"max |onnx - torch| = {report.worst:.3g} at batch sizes {list(report.batch_sizes)}")
    return 0


def cmd_gui(args) -> int:
    from workbench.gui.app import main as gui_main

    return gui_main(screenshot_dir=args.screenshot)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="Alignment Workbench: plugins for vision-model "
                                     "alignment and OOD methods, headless or in a desktop window.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plugins", help="list plugins and tasks (reads manifests only)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_plugins)
    p = sub.add_parser("info", help="versions, devices and usable backends")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_info)
    p = sub.add_parser("run", help="run one task")
    p.add_argument("task")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="a task parameter (repeatable)")
    p.add_argument("--backend", default="auto", help="auto, torch, onnx, or torch-cpu/torch-cuda/onnx-cpu/onnx-cuda")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--execution", choices=("auto", "inproc", "worker"), default="auto")
    p.add_argument("--out", help="run store folder (default: $WORKBENCH_HOME/runs)")
    p.add_argument("--report", action="store_true", help="also write an HTML report into the run folder")
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("rerun", help="run again what a run folder's run.json recorded (task, params, backend, seed)")
    p.add_argument("run_dir")
    p.add_argument("--out", help="run store folder (default: $WORKBENCH_HOME/runs)")
    p.set_defaults(fn=cmd_rerun)
    p = sub.add_parser("batch", help="run a recipe's steps in order")
    p.add_argument("recipe")
    p.add_argument("--out", help="batch folder (default: $WORKBENCH_HOME/batches/<time>-<name>)")
    p.add_argument("--keep-going", action="store_true", help="run the remaining steps after a failed one")
    p.add_argument("--shard", metavar="I/N", help="run every N-th step starting at I (split over machines)")
    p.add_argument("--no-report", action="store_true")
    p.set_defaults(fn=cmd_batch)
    p = sub.add_parser("demo", help="run the demo recipe and write its report")
    p.add_argument("--out", help="batch folder for the demo")
    p.set_defaults(fn=cmd_demo)
    p = sub.add_parser("report", help="HTML report of one or more run folders")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--out", help="report folder (default: RUN_DIR/report)")
    p.set_defaults(fn=cmd_report)
    p = sub.add_parser("export-onnx", help="export a zoo model to ONNX with a parity check")
    p.add_argument("model", help="zoo model id (see `workbench plugins --json` / models/)")
    p.add_argument("--weights", help="weights file (default: the zoo's)")
    p.add_argument("--out", required=True, help="output .onnx path")
    p.set_defaults(fn=cmd_export_onnx)
    p = sub.add_parser("gui", help="open the desktop workbench")
    p.add_argument("--screenshot", metavar="DIR", help="render the window and result views to PNGs, then exit")
    p.set_defaults(fn=cmd_gui)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from workbench.core.errors import UserError

    try:
        return args.fn(args)
    except (UserError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
