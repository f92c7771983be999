"""The HTML report: every result of one or more runs, with the parameters and versions that produced them."""

from __future__ import annotations

import html
import json
from pathlib import Path

from workbench.core import results as R
from workbench.core.atomic import atomic_write_text
from workbench.core.plugins import get_host
from workbench.core.runstore import RunStore
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


def build_report(run_dirs: list[Path], out_dir: Path, title: str = "Alignment Workbench report") -> Path:
    """Write ``out_dir/index.html`` with figures under ``out_dir/figures``; return the HTML path."""
    figures = out_dir / "figures"
    parts = [f"<h1>{html.escape(title)}</h1>"]
    for run_dir in run_dirs:
        record = RunStore.load(run_dir)
        state_cls = "failed" if record.state.value != "completed" else ""
        parts.append(f"<h2>{html.escape(record.recipe_step or record.task)} "
                     f"<span class='meta {state_cls}'>[{record.state.value}]</span></h2>")
        parts.append(f"<p class='meta'>task <b>{html.escape(record.task)}</b> · backend "
                     f"{html.escape(record.resolved_backend)} · seed {record.seed} · {record.duration_s:.2f} s · "
                     f"run <code>{html.escape(str(run_dir))}</code></p>")
        if record.error:
            parts.append(f"<pre class='failed'>{html.escape(record.error)}</pre>")
        sub = figures / record.id
        for result in RunStore.results(run_dir):
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
        parts.append("<details><summary>parameters and versions</summary><pre>"
                     + html.escape(json.dumps({"request": record.request(), "versions": record.versions}, indent=1))
                     + "</pre></details>")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>")
    index = out_dir / "index.html"
    atomic_write_text(index, page)
    return index
