"""The HTML report: every result of one or more runs, with the parameters and versions that produced them."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from workbench.core import results as R
from workbench.core.atomic import atomic_write_text
from workbench.core.batch import read_batch_record
from workbench.core.errors import UserError
from workbench.core.plugins import get_host
from workbench.core.results import ResultFileError
from workbench.core.runstore import RunRecord, RunStore
from workbench.core.specs import resolve_entry
from workbench.render.export import export_result

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}
h1{font-size:1.5em} h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:.5em 0} .meta{color:#666;font-size:.85em}
.failed{color:#b00} pre{background:#f7f7f7;padding:.6em;overflow:auto;font-size:.8em}
"""


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape(str(value))


def table_html(table: R.MetricsTable) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>" for row in table.rows)
    notes = f"<p class='meta'>{html.escape(table.notes)}</p>" if table.notes else ""
    return f"<table><tr>{head}</tr>{body}</table>{notes}"


def export_with_renderer(result: R.Result, out_dir: Path) -> list[Path]:
    """Export through the kind's registered exporter, else the default (figure PNG, CSV for tables)."""
    spec = get_host().registry.kind(result.kind)
    if spec is not None and spec.exporter:
        return resolve_entry(spec.exporter)(result, out_dir)
    return export_result(result, out_dir)


def expand_folders(folders: list[Path]) -> list[Path]:
    """Run folders as given; a batch folder (or a shard of one) gives its runs in the order it ran them."""
    run_dirs: list[Path] = []
    for folder in folders:
        if (folder / "run.json").is_file() or not (folder / "batch.json").is_file():
            run_dirs.append(folder)
            continue
        run_dirs += [Path(s.run_dir) for s in read_batch_record(folder).steps if s.run_dir]
    return run_dirs


def _scalars(results: list[R.Result]) -> dict[str, float]:
    """Numbers a run reports in two-column key/value tables (the comparison across a sweep)."""
    out: dict[str, float] = {}
    for result in results:
        if isinstance(result, R.MetricsTable) and len(result.columns) == 2:
            for key, value in result.rows:
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    out[f"{result.name}: {key}"] = float(value)
    return out


def sweep_results(runs: list[tuple[RunRecord, list[R.Result]]]) -> list[R.Result]:
    """Per sweep group: one table (swept values and every shared scalar metric) and, when one swept value is
    numeric, curves of each metric against it."""
    groups: dict[str, list[tuple[RunRecord, dict[str, float]]]] = {}
    for record, results in runs:
        if record.sweep_group:
            groups.setdefault(record.sweep_group, []).append((record, _scalars(results)))
    out: list[R.Result] = []
    for group, members in groups.items():
        keys = list(dict.fromkeys(k for record, _ in members for k in record.sweep_values))
        shared = [m for m in members[0][1] if all(m in scalars for _, scalars in members)]
        rows = [[*(record.sweep_values.get(k) for k in keys), record.state.value, *(s[m] for m in shared)]
                for record, s in members]
        out.append(R.MetricsTable(name=f"sweep-{len(out)}", title=f"Sweep: {group}",
                                  columns=[*keys, "state", *shared], rows=rows))
        numeric = [k for k in keys if all(isinstance(r.sweep_values.get(k), (int, float)) for r, _ in members)]
        if len(numeric) == 1 and shared:
            x = numeric[0]
            others = [k for k in keys if k != x]
            series = {}
            for metric in shared[:6]:
                lines: dict[str, list[tuple[float, float]]] = {}
                for record, scalars in members:
                    label = ", ".join(f"{k}={record.sweep_values.get(k)}" for k in others)
                    lines.setdefault(label, []).append((float(record.sweep_values[x]), scalars[metric]))
                for label, points in lines.items():
                    points.sort()
                    series[f"{metric}" + (f" ({label})" if label else "")] = np.array(points).T
            out.append(R.Curves(name=f"sweep-{len(out)}-curves", title=f"Sweep: {group}: metrics against {x}",
                                series=series, x_label=x, y_label="value"))
    return out


def _render(result: R.Result, sub: Path, out_dir: Path, parts: list[str]) -> None:
    if result.title:
        parts.append(f"<h3>{html.escape(result.title)}</h3>")
    if isinstance(result, R.MetricsTable):
        parts.append(table_html(result))
    for path in export_with_renderer(result, sub):
        rel = path.relative_to(out_dir).as_posix()
        if path.suffix == ".png":
            parts.append(f"<img src='{html.escape(rel)}' alt='{html.escape(result.name)}'>")
        else:
            parts.append(f"<p class='meta'><a href='{html.escape(rel)}'>{html.escape(path.name)}</a></p>")


def build_report(run_dirs: list[Path], out_dir: Path, title: str = "Alignment Workbench report") -> Path:
    """Write ``out_dir/index.html`` with figures under ``out_dir/figures``; return the HTML path.

    A run folder that cannot be read (a corrupt ``run.json`` or result file) is listed with the reason and
    skipped; the other runs are reported. Sweeps get one comparison table and figure each, first.
    """
    figures = out_dir / "figures"
    parts = [f"<h1>{html.escape(title)}</h1>"]
    body: list[str] = []
    loaded: list[tuple[RunRecord, list[R.Result]]] = []
    skipped: list[Exception] = []
    for run_dir in run_dirs:
        try:
            record = RunStore.load(run_dir)
            results = RunStore.results(run_dir)
        except (UserError, ResultFileError, OSError) as exc:
            skipped.append(exc)
            body.append(f"<h2>{html.escape(str(run_dir))} <span class='meta failed'>[unreadable, skipped]</span>"
                        f"</h2><pre class='failed'>{html.escape(str(exc))}</pre>")
            continue
        loaded.append((record, results))
        state_cls = "failed" if record.state.value != "completed" else ""
        body.append(f"<h2>{html.escape(record.recipe_step or record.task)} "
                    f"<span class='meta {state_cls}'>[{record.state.value}]</span></h2>")
        body.append(f"<p class='meta'>task <b>{html.escape(record.task)}</b> · backend "
                    f"{html.escape(record.resolved_backend)} · seed {record.seed} · {record.duration_s:.2f} s · "
                    f"run <code>{html.escape(str(run_dir))}</code></p>")
        if record.error:
            body.append(f"<pre class='failed'>{html.escape(record.error)}</pre>")
        for result in results:
            _render(result, figures / record.id, out_dir, body)
        body.append("<details><summary>parameters and versions</summary><pre>"
                    + html.escape(json.dumps({"request": record.request(), "versions": record.versions}, indent=1))
                    + "</pre></details>")
    if not loaded:
        raise UserError("no readable run to report: " + ("; ".join(map(str, skipped)) or "no run folders given"))
    sweeps = sweep_results(loaded)
    if sweeps:
        parts.append("<h2>Sweeps</h2>")
        for result in sweeps:
            _render(result, figures / "sweeps", out_dir, parts)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(parts + body)}</body></html>")
    index = out_dir / "index.html"
    atomic_write_text(index, page)
    return index
