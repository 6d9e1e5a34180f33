"""``DIR/report.html``: one self-contained page built from the audit's tables.

What was audited (model SPEC, data file and format, layout, history, dtype and tolerance,
device), the dropped elements with their reasons (one line each), and per element set a figure
(the per-example median relative error with its Q1-Q3 band, PNG inlined as base64) and a table
(quartiles over the examples, min/max, residual_max, within_tolerance).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import pandas as pd

from symaudit._io import write_atomic

__all__ = ["write_report"]

_COLUMNS = ["element", "q1", "median", "q3", "min", "max", "residual_max", "within_tolerance"]

_STYLE = """
body { font-family: sans-serif; max-width: 70em; margin: 2em auto; color: #222; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border: 1px solid #bbb; padding: 0.2em 0.5em; text-align: right; }
th { background: #eee; } .fail { background: #fdd; } .ok { background: #dfd; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""


def _figure(per_seed: pd.DataFrame, element_set: str) -> str:
    """The median relative error per element with its Q1-Q3 band, as an inline <img>."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(4.0, 0.25 * len(per_seed)), 3.0))
    pos = range(len(per_seed))
    ax.fill_between(pos, per_seed["q1"], per_seed["q3"], alpha=0.3, label="Q1-Q3")
    ax.plot(pos, per_seed["median"], marker="o", ms=3, label="median")
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    step = max(1, len(per_seed) // 16)
    ax.set_xticks(list(pos)[::step], list(per_seed["element"])[::step], rotation=45, fontsize=7)
    ax.ticklabel_format(axis="y", useOffset=False)  # R itself, not an offset from 1
    ax.set_ylabel("relative SMSE R")
    ax.set_title(f"{element_set}: R = SMSE(f(g.x), g.y) / SMSE(f(x), y)", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<img alt="{element_set}" src="data:image/png;base64,{data}">'


def _table(per_seed: pd.DataFrame) -> str:
    rows = []
    head = "".join(f"<th>{c}</th>" for c in _COLUMNS)
    for _, r in per_seed.iterrows():
        cls = "ok" if bool(r["within_tolerance"]) else "fail"
        cells = []
        for c in _COLUMNS:
            v = r[c]
            text = f"{v:.6g}" if isinstance(v, float) else html.escape(str(v))
            cells.append(
                f'<td class="{cls}">{text}</td>' if c == "within_tolerance" else f"<td>{text}</td>"
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _influence_table(df: pd.DataFrame) -> str:
    cols = ["element", "q1", "median", "q3", "min", "max", "converged"]
    head = "".join(f"<th>{c}</th>" for c in cols)
    rows = []
    for _, r in df.iterrows():
        cells = [f"{r[c]:.6g}" if isinstance(r[c], float) else html.escape(str(r[c])) for c in cols]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _set_section(name: str, tables: dict) -> list[str]:
    df = tables["equivariance"]
    n_fail = int((~df["within_tolerance"].astype(bool)).sum())
    parts = [
        f"<h2>{html.escape(name)}</h2>",
        f"<p>{len(df)} elements, {n_fail} beyond the tolerance "
        f"(tables/equivariance_{html.escape(name)}_per_seed.csv)</p>",
    ]
    if len(df):
        parts += [_figure(df, name), _table(df)]
    if "influence" in tables:
        parts.append(
            "<h3>Influence</h3><p>standardised diagonal influence between x and g.x "
            f"(tables/influence_{html.escape(name)}.csv)</p>"
        )
        parts.append(_influence_table(tables["influence"]))
    return parts


def write_report(path: Path, meta: dict, results: dict[str, dict], dropped: list[str]):
    """Write the page; ``meta``: label -> value; ``results``: set -> {"equivariance": per-seed
    table, optionally "influence": influence table}; ``dropped``: one line per element left
    out."""
    parts = ["<h1>symaudit audit</h1>", "<table>"]
    parts += [
        f"<tr><th>{html.escape(k)}</th><td><code>{html.escape(str(v))}</code></td></tr>"
        for k, v in meta.items()
    ]
    parts.append("</table>")
    parts.append(
        "<p>R = SMSE(f(g.x), g.y) / SMSE(f(x), y) per transition (1 for an equivariant model "
        "on these examples); residual = ||f(g.x) - g.f(x)|| / ||f(x)||, compared with the "
        "tolerance of the model's dtype.  The group acts in float64.</p>"
    )
    parts.append("<h2>Elements dropped</h2>")
    if dropped:
        parts.append("<ul>" + "".join(f"<li>{html.escape(d)}</li>" for d in dropped) + "</ul>")
    else:
        parts.append("<p>none: the grid and its boundaries allow every element asked for.</p>")
    for name, tables in results.items():
        parts += _set_section(name, tables)
    page = "<!DOCTYPE html><html><head><meta charset='utf-8'><title>symaudit audit</title>"
    page += f"<style>{_STYLE}</style></head><body>" + "\n".join(parts) + "</body></html>\n"
    write_atomic(path, lambda tmp: Path(tmp).write_text(page))
    return path
