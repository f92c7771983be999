"""Headless exporters: a PNG of the same figure the GUI shows, plus CSV for tabular kinds."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg

from workbench.core import results as R
from workbench.core.atomic import atomic_write_bytes, atomic_write_text
from workbench.render.figures import build_figure


def figure_png(result: R.Result, dpi: int = 100, **options) -> bytes | None:
    fig = build_figure(result, **options)
    if fig is None:
        return None
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def table_csv(result: R.MetricsTable) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(result.columns)
    writer.writerows(result.rows)
    return buf.getvalue()


def export_result(result: R.Result, out_dir: Path) -> list[Path]:
    """Write ``<name>.png`` (and ``<name>.csv`` for tables) into ``out_dir``; return the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if isinstance(result, R.MetricsTable):
        path = out_dir / f"{result.name}.csv"
        atomic_write_text(path, table_csv(result))
        written.append(path)
    png = figure_png(result)
    if png is not None:
        path = out_dir / f"{result.name}.png"
        atomic_write_bytes(path, png)
        written.append(path)
    return written
