"""The shapes-world OOD benchmark: post-hoc detectors on a plain CE model beside the trained detectors (MixOE, PALM,
ASCOOD), near/far AUROC and FPR@95 as mean ± std over training seeds.

    python benchmarks/ood_shapes.py [--recipe ood-shapes-benchmark] [--out runs-folder] [--seeds 0 1 2]

Trains every step of the recipe, then scores each seed's four models with ``ood.evaluate``: every model with its own
detector, the CE model also with MSP, max-logit, energy, ODIN, Mahalanobis (normalised features) and KNN. Runs
already completed in ``--out`` (trainings and evaluations) are reused. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from wb_oodtrain.params import DataParams
from workbench.api import find_recipe
from workbench.core.plugins import get_host
from workbench.core.recipes import load_recipe
from workbench.core.runner import Runner, RunRequest
from workbench.core.runstore import RunState, RunStore

POSTHOC = ["msp", "max-logit", "energy", "odin", "mahalanobis-norm", "knn"]
METHOD_TITLE = {"ce": "CE", "mixoe": "MixOE", "palm": "PALM", "ascood": "ASCOOD"}
COLUMNS = ["ID accuracy", "near AUROC", "near FPR@95", "far AUROC", "far FPR@95"]


def _train(request: RunRequest, runner: Runner, done: list[dict]) -> Path:
    """Run one training step of the recipe, or reuse a completed run of the same step, seed and parameters."""
    for doc in done:
        if doc.get("recipe_step") == request.recipe_step and doc["seed"] == request.seed and \
                all(doc["params"].get(k) == v for k, v in request.params.items()):
            return doc["dir"]
    job, record = runner.run(request)
    if record.state != RunState.COMPLETED:
        raise SystemExit(f"{request.recipe_step}: {record.state} ({record.error})")
    print(f"trained {request.recipe_step} -> {job.run_dir}", flush=True)
    return job.run_dir


def _completed(store: RunStore) -> list[dict]:
    """``run.json`` of every completed run in the store, with its folder under ``"dir"``."""
    out = []
    for run_json in sorted(store.root.glob("*/run.json")):
        doc = json.loads(run_json.read_text())
        if doc.get("state") == "completed":
            out.append({**doc, "dir": run_json.parent})
    return out


def _evaluate(runner: Runner, checkpoints: list[str], detectors: list[str], data: dict, done: list[dict]
              ) -> list[list]:
    """The comparison rows of ``ood.evaluate`` on ``checkpoints``: a completed run in the store is reused."""
    for doc in done:
        if doc["task"] == "ood.evaluate" and doc["params"].get("checkpoints") == checkpoints and \
                doc["params"].get("detectors") == detectors:
            run_dir = doc["dir"]
            break
    else:
        job, record = runner.run(RunRequest(task="ood.evaluate", backend="torch", execution="inproc",
                                            params={**data, "checkpoints": checkpoints, "detectors": detectors}))
        if record.state != RunState.COMPLETED:
            raise SystemExit(f"ood.evaluate: {record.state} ({record.error})")
        run_dir = job.run_dir
    return next(r for r in RunStore.results(run_dir) if r.name == "comparison").rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="ood-shapes-benchmark")
    parser.add_argument("--out", default="runs-ood-shapes", help="run folder (re-running resumes)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    recipe = load_recipe(find_recipe(args.recipe), get_host().registry)
    store = RunStore(Path(args.out))
    runner = Runner(store)
    done = _completed(store)
    models: dict[int, dict[str, Path]] = defaultdict(dict)
    data = {}
    for request in recipe.steps:
        if request.seed not in args.seeds:
            continue
        request = request.model_copy(update={"execution": "inproc"})
        method = request.task.split("-")[-1]
        models[request.seed][method] = _train(request, runner, done) / "artifacts" / "model.safetensors"
        data = {k: v for k, v in request.params.items() if k in DataParams.model_fields}
    rows: dict[str, list[list[float]]] = defaultdict(list)
    for _, found in sorted(models.items()):
        for row in _evaluate(runner, [str(found[m]) for m in METHOD_TITLE], ["auto"], data, done):
            rows[f"{METHOD_TITLE[row[1]]} ({row[2]})"].append(row[3:])
        for row in _evaluate(runner, [str(found["ce"])], POSTHOC, data, done):
            rows[f"CE + {row[2]} (post-hoc)"].append(row[3:])
    print(f"\n{len(models)} seed(s) {sorted(models)}; mean ± std\n")
    print("| model + detector | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for name, values in rows.items():
        v = np.array(values, dtype=float)
        cells = [f"{m:.3f} ± {s:.3f}" for m, s in zip(v.mean(0), v.std(0))]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
