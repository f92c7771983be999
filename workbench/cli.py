"""The headless entry point: ``workbench plugins | info | run | rerun | batch | demo | recipes | report | schema |
export-onnx | gui``.

Imports stay inside the commands so ``workbench --help`` and ``workbench plugins`` never load torch.
``workbench run TASK --help`` lists the task's parameters (type, default, range, choices, description), and
``--set KEY=VALUE`` reads each value by its field's type.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
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

    return Runner(store=RunStore(_out_folder(out)) if out else None)


def _out_folder(out: str) -> Path:
    from workbench.core.errors import UserError

    path = Path(out)
    if path.exists() and not path.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    return path


def _print_record(record, run_dir: Path) -> None:
    print(f"{record.state.value}: {record.task} ({record.resolved_backend}, {record.duration_s:.2f} s) -> {run_dir}")
    if record.error:
        print(f"error: {record.error}", file=sys.stderr)
        if record.traceback:
            print(f"traceback: {run_dir / 'log.txt'}", file=sys.stderr)


def _execute(runner, job):
    """Execute a prepared job with progress on stderr and print its outcome; None when the user pressed Ctrl-C."""
    for note in job.record.notes:
        print(f"note: {note}", file=sys.stderr)
    try:
        record = runner.execute(job, _progress_printer(job.record.task))
    except KeyboardInterrupt:
        print(f"cancelled: {job.run_dir}", file=sys.stderr)
        return None
    _print_record(record, job.run_dir)
    return record


def _task_doc(host, spec) -> dict:
    from workbench.core.params import describe_field, params_revision

    return {"id": spec.id, "plugin": spec.plugin, "title": spec.title, "family": spec.family,
            "backends": list(spec.backends), "execution": spec.execution, "requires": list(spec.requires),
            "available": spec.qualified_id not in host.registry.unavailable,
            "unavailable_reason": host.registry.unavailable.get(spec.qualified_id, ""),
            "description": spec.description, "params_revision": params_revision(spec.params),
            "parameters": [describe_field(n, f) for n, f in spec.params.model_fields.items()]}


def _plugins_listing(as_json: bool) -> str:
    """What ``workbench plugins`` prints, built from the loaded plugins."""
    from workbench.core.plugins import get_host

    host = get_host()
    registry = host.registry
    if as_json:
        doc = []
        for info in host.plugins.values():
            doc.append({
                "name": info.name, "module": info.module, "version": info.version, "status": info.status,
                "source": info.source,
                "error": info.error, "traceback": info.traceback, "rejected": info.rejected,
                "tasks": [_task_doc(host, t) for t in registry.tasks.of_plugin(info.name)],
                "samples": [s.id for s in registry.samples.of_plugin(info.name)],
                "models": [m.id for m in registry.models.of_plugin(info.name)],
                "result_kinds": sorted(k for k, v in registry.kinds.items() if v.plugin == info.name),
            })
        return json.dumps(doc, indent=1)
    lines = [f"{'plugin':<16} {'version':<9} {'status':<9} tasks"]
    for info in host.plugins.values():
        tasks = ", ".join(info.tasks) or ("-" if info.status == "loaded" else info.error)
        lines.append(f"{info.name:<16} {info.version:<9} {info.status:<9} {tasks}")
        lines += [f"{'':<16} {'':<9} {'rejected':<9} {reason}" for reason in info.rejected]
    lines += ["", f"{'task':<30} {'family':<30} {'execution':<9} backends"]
    order = {f.id: f.order for f in registry.families.values()}
    for spec in sorted(registry.tasks.values(), key=lambda s: (order.get(s.family, 999), s.id)):
        reason = registry.unavailable.get(spec.qualified_id)
        line = f"{spec.id:<30} {registry.family_title(spec.family):<30} {spec.execution:<9} {', '.join(spec.backends)}"
        lines.append(line + (f"  [unavailable: {reason}]" if reason else ""))
    return "\n".join(lines)


def cmd_plugins(args) -> int:
    from workbench.core.manifest_cache import cached_listing, can_use_cache

    def build() -> str:
        return _plugins_listing(args.json)

    use_cache = not args.no_cache and can_use_cache()
    print(cached_listing(build, "json" if args.json else "text") if use_cache else build())
    return 0


def cmd_info(args) -> int:
    from workbench.core.devices import describe
    from workbench.gui.qt_platform import xcb_check

    info = describe()
    info["qt_xcb"] = xcb_check()
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    build = info["build"]
    print(f"workbench {info['workbench']}: {build['flavour']} build"
          + (f" (built {build['built']} from {build.get('commit', '?')})" if "built" in build else ""))
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
    print(f"usable backends: {', '.join(backends)}, cpu")
    print(f"desktop GUI (Qt xcb platform): {info['qt_xcb']['note']}")
    print(f"plugin folders: {', '.join(info['plugin_folders']) or '-'} (WORKBENCH_PLUGINS_PATH, or plugins/ beside "
          "a packaged app)")
    return 0


def _params_help(spec) -> str:
    """The parameter table printed by ``workbench run TASK --help``."""
    from workbench.core.params import describe_field, params_revision

    lines = [f"{spec.id} ({spec.plugin}): {spec.title}", "", spec.description, "",
             f"backends: {', '.join(spec.backends)}; execution: {spec.execution}; parameters revision "
             f"{params_revision(spec.params)}", "", "parameters (--set KEY=VALUE, repeatable):"]
    for name, info in spec.params.model_fields.items():
        d = describe_field(name, info)
        extra = []
        if d["choices"]:
            extra.append("choices: " + ", ".join(map(str, d["choices"])))
        if d["range"]:
            extra.append("range: " + ", ".join(f"{k} {v}" for k, v in d["range"].items()))
        default = "required" if d["required"] else f"default {json.dumps(d['default'])}"
        lines.append(f"  {name} ({d['type']}; {default})" + (f" [{'; '.join(extra)}]" if extra else ""))
        if d["description"]:
            lines.append(f"      {d['description']}")
    return "\n".join(lines)


def cmd_run(args) -> int:
    from workbench.core.params import parse_assignments
    from workbench.core.plugins import get_host
    from workbench.core.runner import RunRequest

    spec = get_host().registry.task(args.task)
    if args.task_help:
        print(_params_help(spec))
        return 0
    runner = _runner(args.out)
    request = RunRequest.checked(task=args.task, params=parse_assignments(args.set or [], spec.params),
                                 backend=args.backend, device=args.device, seed=args.seed, execution=args.execution)
    job = runner.prepare(request)
    record = _execute(runner, job)
    if record is None:
        return _interrupted_exit()
    if args.report and record.results:
        from workbench.render.report import build_report

        print(f"report: {build_report([job.run_dir], job.run_dir / 'report', title=record.task)}")
    return 0 if record.state.value == "completed" else 1


def cmd_rerun(args) -> int:
    from workbench.core.runner import RunRequest
    from workbench.core.runstore import RunStore

    record = RunStore.load(Path(args.run_dir))
    runner = _runner(args.out)
    request = {**record.request(), "task": f"{record.plugin}/{record.task}" if record.plugin else record.task}
    new = _execute(runner, runner.prepare(RunRequest.checked(**request, execution=record.execution)))
    if new is None:
        return _interrupted_exit()
    return 0 if new.state.value == "completed" else 1


def _batch_printer(batch):
    """One overall line per finished run (done / failed / running, ETA) on stderr."""
    import time

    from workbench.core.batch import BatchEvent

    t0 = time.monotonic()

    def on_event(event: BatchEvent) -> None:
        if event.kind not in ("step-start", "step-end"):
            return
        counts = batch.record.counts()
        done = counts.get("completed", 0) + counts.get("failed", 0) + counts.get("cancelled", 0)
        fresh = done - sum(s.reused for s in batch.record.steps)
        eta = (time.monotonic() - t0) / fresh * (event.total - done) if fresh else 0.0
        what = "start" if event.kind == "step-start" else event.step.state
        print(f"== [{done}/{event.total} done, {counts.get('failed', 0)} failed, {counts.get('running', 0)} running"
              f"{f', ETA {eta:.0f} s' if fresh else ''}] run {event.index}: {event.step.name}: {what}",
              file=sys.stderr, flush=True)

    return on_event


def _slurm_shard() -> str | None:
    """``--shard`` from a SLURM array job's environment (task ids may start at any ``SLURM_ARRAY_TASK_MIN``)."""
    import os

    if "SLURM_ARRAY_TASK_ID" not in os.environ or "SLURM_ARRAY_TASK_COUNT" not in os.environ:
        return None
    first = int(os.environ.get("SLURM_ARRAY_TASK_MIN", "0"))
    return f"{int(os.environ['SLURM_ARRAY_TASK_ID']) - first + 1}/{int(os.environ['SLURM_ARRAY_TASK_COUNT'])}"


def slurm_script(recipe: Path, out: Path, shards: int, gpus: int, cpus: int, name: str) -> str:
    """An ``sbatch`` array script: each array task runs one shard of the recipe into its own folder; merge the
    shards afterwards with ``workbench report OUT/shard-*``."""
    lines = ["#!/bin/bash", f"#SBATCH --job-name={name}", f"#SBATCH --array=0-{shards - 1}",
             f"#SBATCH --cpus-per-task={cpus}", f"#SBATCH --output={out}/slurm-%A_%a.log"]
    if gpus:
        lines.append(f"#SBATCH --gres=gpu:{gpus}")
    lines += ["set -euo pipefail", "# the shard comes from SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT",
              f'workbench batch "{recipe}" --keep-going --no-report --out "{out}/shard-$SLURM_ARRAY_TASK_ID"',
              f'# when every task has finished: workbench report "{out}"/shard-* --out "{out}/report"', ""]
    return "\n".join(lines)


def run_batch(recipe_ref: str, out: Path | None, keep_going: bool, shard_spec: str | None,
              report: bool, title: str | None = None, executor: str = "local",
              force: bool = False) -> tuple[int, Path | None]:
    """Run a recipe through the core batch engine and print its summary; returns (exit code, report path)."""
    from workbench.core.batch import Batch

    batch = Batch.from_file(recipe_ref, _out_folder(str(out)) if out else None, keep_going=keep_going,
                            shard_spec=shard_spec or _slurm_shard(), executor=executor, force=force)
    for note in batch.record.notes:
        print(f"note: {note}", file=sys.stderr)
    code = 0
    try:
        record = batch.run(_batch_printer(batch), on_run_event=lambda step: _progress_printer(step.name))
    except KeyboardInterrupt:
        print("batch interrupted: the summary and the report cover the steps that finished", file=sys.stderr)
        record, code = batch.record, _interrupted_exit()
    print(f"\n{'step':<44} {'task':<24} {'state':<10} {'time':>8}  error")
    for step in record.steps:
        state = "reused" if step.reused else step.state
        print(f"{step.name[:44]:<44} {step.task[:24]:<24} {state:<10} {step.duration_s:>7.1f}s  "
              f"{step.error[:80]}")
    for note in record.notes[len(batch.recipe.notes):]:
        print(f"note: {note}")
    index = batch.write_report(title) if report else None
    if index is not None:
        print(f"\nreport: {index}")
    print(f"batch folder: {batch.folder} (summary: {batch.json_path.name})")
    if code == 0:
        code = 0 if record.state == "completed" else 1
    return code, index


def cmd_batch(args) -> int:
    if args.slurm_script:
        from workbench.core.catalog import find_recipe
        from workbench.core.errors import UserError

        if not args.out:
            raise UserError("--slurm-script needs --out: the shared folder the array tasks write into")
        path = find_recipe(args.recipe).resolve()
        print(slurm_script(path, Path(args.out).resolve(), args.slurm_script, args.gpus, args.cpus, path.stem))
        return 0
    code, _ = run_batch(args.recipe, Path(args.out) if args.out else None, args.keep_going, args.shard,
                        not args.no_report, executor=args.executor, force=args.force)
    return code


def cmd_demo(args) -> int:
    code, index = run_batch("demo", Path(args.out) if args.out else None, keep_going=True, shard_spec=None,
                            report=True, title="Alignment Workbench demo")
    if index is not None:
        print(f"\nOpen the demo report: {index}")
    return code


def cmd_recipes(args) -> int:
    from workbench.core.plugins import get_host

    for spec in sorted(get_host().registry.recipes.values(), key=lambda r: r.id):
        print(f"{spec.id:<30} {spec.plugin:<16} {spec.path}")
    return 0


def cmd_report(args) -> int:
    from workbench.render.report import build_report, expand_folders

    folders = [Path(p) for p in args.run_dirs]
    run_dirs = expand_folders(folders)
    out = Path(args.out) if args.out else folders[0] / "report"
    print(build_report(run_dirs, out))
    return 0


def cmd_schema(args) -> int:
    from workbench.core.params import params_schema
    from workbench.core.plugins import get_host
    from workbench.core.recipes import recipe_schema

    registry = get_host().registry
    if args.recipe:
        doc = recipe_schema(registry)
    elif args.task:
        doc = params_schema(registry.task(args.task).params)
    else:
        print("error: give a TASK or --recipe", file=sys.stderr)
        return 2
    print(json.dumps(doc, indent=1))
    return 0


def cmd_export_onnx(args) -> int:
    from workbench.core.catalog import zoo_card, zoo_weights
    from workbench.core.errors import UserError
    from workbench.core.specs import resolve_entry

    card = zoo_card(args.model)
    if not card.exporter:
        raise UserError(f"model {card.id!r} declares no ONNX exporter")
    weights = Path(args.weights) if args.weights else zoo_weights(card.id)
    out = Path(args.out)
    before = {p: p.stat().st_mtime for p in out.parent.glob(f"{out.stem}*.onnx")}
    report = resolve_entry(card.exporter)(weights, out)
    print(f"exported {card.id} -> {report.path} ({report.exporter}, opset {report.opset}); "
          f"max |onnx - torch| = {report.worst:.3g} at batch sizes {list(report.batch_sizes)}")
    if args.quantize:
        from workbench.core.onnx_export import quantize_int8

        written = [p for p in sorted(out.parent.glob(f"{out.stem}*.onnx"))
                   if not p.name.endswith(".int8.onnx") and before.get(p) != p.stat().st_mtime]
        for graph in written:  # every graph the exporter wrote (a CLIP writes its two encoders)
            print(f"quantised ({args.quantize} dynamic) -> {quantize_int8(graph)}")
    return 0


def cmd_gui(args) -> int:
    from workbench.gui.app import main as gui_main

    return gui_main(screenshot_dir=args.screenshot)


class _VersionAction(argparse.Action):
    """``--version``: the build information is read only when asked, so building the parser stays cheap."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from workbench.core.build_info import version_line

        print(version_line())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description="Alignment Workbench: plugins for vision-model "
                                     "alignment and OOD methods, headless or in a desktop window.")
    parser.add_argument("--version", action=_VersionAction,
                        help="version and build flavour (cuda, cpu, source or pip), then exit")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plugins", help="list plugins and tasks (reads manifests only, cached until a plugin, the "
                                       "host or the configuration changes)")
    p.add_argument("--json", action="store_true", help="machine-readable, with every task's parameters")
    p.add_argument("--no-cache", action="store_true", help="load every plugin's manifest now, not the cached listing")
    p.set_defaults(fn=cmd_plugins)
    p = sub.add_parser("info", help="versions, devices and usable backends")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_info)
    p = sub.add_parser("run", help="run one task (`workbench run TASK --help` lists its parameters)", add_help=False)
    p.add_argument("task", help="task id (or plugin/id)")
    p.add_argument("-h", "--help", dest="task_help", action="store_true", help="list the task's parameters")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="a task parameter (repeatable)")
    p.add_argument("--backend", default="auto",
                   help="auto, torch, onnx, cpu or torch-cpu/torch-cuda/onnx-cpu/onnx-cuda")
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
    p = sub.add_parser("batch", help="run a recipe's steps in order (a file, or a shipped recipe's name)")
    p.add_argument("recipe")
    p.add_argument("--out", help="batch folder (default: $WORKBENCH_HOME/batches/<time>-<name>)")
    p.add_argument("--keep-going", action="store_true", help="run the remaining steps after a failed one")
    p.add_argument("--shard", metavar="I/N", help="run every N-th run starting at I (split over machines); "
                   "default from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT in a SLURM array job")
    p.add_argument("--executor", default="local", help="local (one run after another), pool:N (N worker "
                   "subprocesses, one GPU each when there are GPUs), ray or ray:N (each run a Ray task on the cluster "
                   "at RAY_ADDRESS, or on a local Ray runtime; the batch folder must be on a shared filesystem)")
    p.add_argument("--force", action="store_true", help="run everything again instead of resuming the folder")
    p.add_argument("--no-report", action="store_true")
    p.add_argument("--slurm-script", type=int, metavar="SHARDS", help="print an sbatch array script that runs the "
                   "recipe in SHARDS array tasks into --out, then exit")
    p.add_argument("--gpus", type=int, default=0, help="with --slurm-script: GPUs per array task")
    p.add_argument("--cpus", type=int, default=4, help="with --slurm-script: CPUs per array task")
    p.set_defaults(fn=cmd_batch)
    p = sub.add_parser("demo", help="run the demo recipe and write its report")
    p.add_argument("--out", help="batch folder for the demo")
    p.set_defaults(fn=cmd_demo)
    p = sub.add_parser("recipes", help="list the shipped recipes (runnable by name with `workbench batch NAME`)")
    p.set_defaults(fn=cmd_recipes)
    p = sub.add_parser("report", help="HTML report of run folders and batch folders (shards are merged)")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--out", help="report folder (default: RUN_DIR/report)")
    p.set_defaults(fn=cmd_report)
    p = sub.add_parser("schema", help="JSON Schema of a task's parameters, or of recipes (--recipe)")
    p.add_argument("task", nargs="?")
    p.add_argument("--recipe", action="store_true", help="the schema of a whole recipe file")
    p.set_defaults(fn=cmd_schema)
    p = sub.add_parser("export-onnx", help="export a zoo model to ONNX with a parity check")
    p.add_argument("model", help="zoo model id (see `workbench plugins --json`)")
    p.add_argument("--weights", help="weights file (default: the zoo's)")
    p.add_argument("--out", required=True, help="output .onnx path")
    p.add_argument("--quantize", choices=("int8",), help="also write an ONNX Runtime dynamic int8 copy of each "
                   "graph (<stem>.int8.onnx); `python benchmarks/onnx_int8.py` prints its speed and accuracy change")
    p.set_defaults(fn=cmd_export_onnx)
    p = sub.add_parser("gui", help="open the desktop workbench")
    p.add_argument("--screenshot", metavar="DIR", help="render the window and result views to PNGs, then exit")
    p.set_defaults(fn=cmd_gui)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a scheduler's stop) handled as Ctrl-C is: the run ends cancelled, a batch writes its
    summary and report, and the exit code is 143 instead of 130."""


_TERMINATED = threading.Event()


def _terminate(signum, frame) -> None:
    _TERMINATED.set()
    raise Terminated()


def _interrupted_exit() -> int:
    """130 after Ctrl-C, 143 after SIGTERM (128 + the signal number, as shells report them)."""
    return 128 + (signal.SIGTERM if _TERMINATED.is_set() else signal.SIGINT)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if threading.current_thread() is not threading.main_thread():
        return _dispatch(args)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _dispatch(args)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _dispatch(args) -> int:
    from workbench.core.errors import UserError

    try:
        return args.fn(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (`workbench plugins | head`): say nothing more, like other command-line tools
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return _interrupted_exit()


if __name__ == "__main__":
    sys.exit(main())
