"""Write the report: ``report.html`` (self-contained, figures embedded as base64 PNG) and ``report.md``
with the same figures as files under ``figures/``."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from statsmodels.stats.proportion import proportion_confint
from tqdm import tqdm

from fer3d.atomic import check_output_folder, claim_output_folder, has_entry
from fer3d.config import ExperimentConfig
from fer3d.reports import figures
from fer3d.reports.published import (
    DATASET_TITLES,
    PUBLISHED,
    PUBLISHED_LABEL,
    TABLE6,
    TABLE_OF_DATASET,
    TransferFigure,
    published,
    published_transfer,
)
from fer3d.reports.run_discovery import Run, Search, Sources, Transfer, discover

PROTOCOL_NAMES = {"loso": "LOSO", "kfold": "subject {k}-fold", "nested": "nested subject {k}-fold"}


@dataclass
class Page:
    """Report content in order; each item is rendered to both HTML and Markdown."""

    items: list[tuple[str, object]] = field(default_factory=list)
    figures: dict[str, bytes] = field(default_factory=dict)

    def heading(self, text: str, level: int = 2) -> None:
        self.items.append(("heading", (level, text)))

    def text(self, text: str) -> None:
        self.items.append(("text", text))

    def table(self, headers: list[str], rows: list[list[str]]) -> None:
        self.items.append(("table", (headers, rows)))

    def figure(self, name: str, fig: Figure, caption: str) -> None:
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")
        while slug in self.figures:
            slug += "_"
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        self.figures[slug] = buffer.getvalue()
        self.items.append(("figure", (slug, caption)))


def _protocol(result_protocol: str, n_folds: int) -> str:
    return PROTOCOL_NAMES.get(result_protocol, result_protocol).format(k=n_folds)


def _pct_ci(correct: int, total: int) -> str:
    low, high = proportion_confint(correct, total, alpha=0.05, method="wilson")
    return f"{100 * correct / total:.2f}% [{100 * low:.1f}, {100 * high:.1f}]"


def _run_row(run: Run) -> list[str]:
    r = run.result
    accs = np.array(r.fold_accuracies)
    correct = int(np.sum(r.labels[r.tested] == r.predictions))
    sd = f"{100 * accs.std(ddof=1):.2f}" if len(accs) > 1 else "-"
    return [
        run.dataset,
        _protocol(r.protocol, len(r.folds))
        + (f" ({run.label})" if run.label and r.protocol != "nested" else ""),
        str(len(r.tested)),
        _pct_ci(correct, len(r.tested)),
        f"{100 * accs.mean():.2f} ± {sd}",
        published(run.dataset, r.protocol, len(r.folds)),
        f"`{run.path}`",
    ]


RUN_HEADERS = [
    "dataset",
    "protocol",
    "clips",
    "measured pooled accuracy [95% CI]",
    "mean ± sd of folds (%)",
    f"paper ({PUBLISHED_LABEL})",
    "run folder",
]


def _tables(page: Page, sources: Sources) -> None:
    runs = [r for r in sources.runs if not r.label.startswith("transfer")]
    by_table: dict[str, list[Run]] = {}
    for run in runs:
        by_table.setdefault(TABLE_OF_DATASET.get(run.dataset, "Other datasets"), []).append(run)
    for name in [*TABLE_OF_DATASET.values(), "Other datasets"]:
        chosen = by_table.get(name, [])
        if name == "Other datasets":
            if chosen:
                page.heading("Other runs", 3)
                page.table(RUN_HEADERS, [_run_row(r) for r in chosen])
            continue
        page.heading(name, 3)
        dataset = next(d for d, t in TABLE_OF_DATASET.items() if t == name)
        rows = [_run_row(r) for r in chosen]
        if not chosen:  # the paper's rows, so the table shows what a run would be compared with
            rows = [
                [dataset, _protocol(p, 10), "-", "no run given", "-", published(dataset, p, 10), "-"]
                for p in ("loso", "kfold")
                if (dataset, p) in PUBLISHED
            ]
        page.table(RUN_HEADERS, rows)
    page.text(
        f"Measured columns come from the runs above; the paper's column is {PUBLISHED_LABEL} (CK+ LOSO "
        "97.56%, CK+ 10-fold 100%, Oulu-CASIA 10-fold 84.25%). The dataset column is the cache's reader: a "
        "synthetic set written in the CK+ layout reads as ckplus, so check the run folder before comparing."
    )
    _table6(page, sources, runs)


TABLE6_HEADERS = [
    "architecture optimised on",
    "evaluated on",
    "post-processing",
    "protocol",
    "clips",
    "target clips dropped (no source class)",
    "measured pooled accuracy [95% CI]",
    "measured mean ± sd of folds (%)",
    f"paper: mean of 10 folds ({PUBLISHED_LABEL})",
    "folder",
]


def _title(dataset: str) -> str:
    return DATASET_TITLES.get(dataset, dataset)


def _transfer_row(transfer: Transfer, row: dict, paper: str) -> list[str]:
    """One measured Table 6 row from ``transfer.json``: the config (tuned on the source) on the target."""
    fine_tuned = row["arm"] == "finetuned"
    return [
        _title(row["source"]),
        _title(row["target"]),
        f"fine-tuned on {_title(row['target'])}" if fine_tuned else "none",
        row["protocol"],
        str(row["n_tested"]),
        str(row["dropped"]),
        _pct_ci(int(round(row["pooled_accuracy"] * row["n_tested"])), row["n_tested"]),
        f"{100 * row['mean_fold_accuracy']:.2f} ± {100 * row['std_fold_accuracy']:.2f}",
        paper,
        f"`{transfer.path}`",
    ]


def _published_only_row(figure: TransferFigure, note: str) -> list[str]:
    """A Table 6 row with the paper's figure and no measured run (``note`` says why)."""
    return [
        _title(figure.optimised_on),
        _title(figure.evaluated_on),
        figure.post_processing,
        "subject 10-fold",
        "-",
        "-",
        note,
        note,
        f"{figure.accuracy:.2f}%",
        "-",
    ]


def _table6(page: Page, sources: Sources, runs: list[Run]) -> None:
    """The paper's six rows in its order, each with the measured transfer runs that match it, then the
    measured rows the paper has no figure for (other datasets)."""
    page.heading("Table 6 (transfer)", 3)
    measured = [(t, row) for t in sources.transfers for row in t.info.get("rows", [])]
    used: set[int] = set()
    rows = []
    for figure in TABLE6:
        if figure.optimised_on == figure.evaluated_on:  # within one dataset: Table 3 or 5's 10-fold
            table = TABLE_OF_DATASET[figure.evaluated_on]
            given = any(r.dataset == figure.evaluated_on and r.result.protocol == "kfold" for r in runs)
            note = f"see {table} above" if given else "no run given"
            rows.append(_published_only_row(figure, note))
            continue
        matches = [
            i
            for i, (_, row) in enumerate(measured)
            if (row["source"], row["target"], row["arm"] == "finetuned")
            == (figure.optimised_on, figure.evaluated_on, figure.fine_tuned)
        ]
        for i in matches:
            transfer, row = measured[i]
            k = len(transfer.arms[row["arm"]].result.folds) if row["arm"] in transfer.arms else None
            paper = published_transfer(
                row["source"], row["target"], figure.fine_tuned, k or transfer.info.get("k")
            )
            rows.append(_transfer_row(transfer, row, paper))
            used.add(i)
        if not matches:
            rows.append(_published_only_row(figure, "no run given"))
    rows += [_transfer_row(t, row, "not in paper") for i, (t, row) in enumerate(measured) if i not in used]
    page.table(TABLE6_HEADERS, rows)
    page.text(
        "A transfer run evaluates a configuration tuned on the source dataset on the target dataset, "
        "trained from scratch (post-processing: none) or pre-trained on the source and fine-tuned. The "
        "paper's figures are means of 10 folds; it reports the differences as significant by a p-value "
        "test without giving the values. Rows within one dataset are the 10-fold runs of Tables 3 and 5."
    )
    for transfer in sources.transfers:
        lm = transfer.info.get("label_map", {})
        pairs = ", ".join(f"{s}→{t}" for s, t in lm.get("pairs", []))
        page.text(
            f"Label map for `{transfer.path}`: {pairs}; source only: {lm.get('unmapped_source') or 'none'}; "
            f"target only (dropped): {lm.get('unmapped_target') or 'none'}."
        )


def _search_section(page: Page, search: Search) -> None:
    study = search.study
    page.heading(f"Search `{study.study_name}` ({search.path})", 2)
    identity = study.user_attrs.get("identity", {})
    threshold = identity.get("threshold")
    page.figure(
        f"search_{study.study_name}_scatter",
        figures.search_scatter(study, threshold),
        "Accuracy of each configuration against its trial number; pruned trials (grey crosses) show the "
        "accuracy over the folds they ran before being stopped (like the paper's Figure 2).",
    )
    fig, values = figures.importances(study)
    page.figure(
        f"search_{study.study_name}_importances", fig, "fANOVA parameter importances (completed trials)."
    )
    if values:
        page.table(["parameter", "fANOVA importance"], [[k, f"{v:.3f}"] for k, v in values.items()])
    page.figure(
        f"search_{study.study_name}_slices", figures.slices(study), "Accuracy against each parameter."
    )
    complete = [t for t in study.trials if t.value is not None and "config" in t.user_attrs]
    if complete:
        best = max(complete, key=lambda t: t.value)
        config = ExperimentConfig.from_dict(best.user_attrs["config"])
        num_classes, channels = _search_shape(best.user_attrs.get("run_dir"))
        page.figure(
            f"search_{study.study_name}_architecture",
            figures.architecture(config, num_classes, channels),
            f"The chosen architecture (trial {best.number}, {100 * best.value:.2f}%) with its filter counts.",
        )


def _search_shape(run_dir: str | None) -> tuple[int, int]:
    """Classes and channels of the cache a trial ran on (CK+'s 7 gray classes if it cannot be read)."""
    from fer3d.data.cache import ClipStore

    try:
        header = json.loads((Path(run_dir) / "run.json").read_text())  # type: ignore[arg-type]
        store = ClipStore.open(header["cache"])
        return store.num_classes, store.channels
    except Exception:
        return 7, 1


def _run_section(page: Page, run: Run) -> None:
    r = run.result
    name = f"{run.label or 'evaluate'}: {_protocol(r.protocol, len(r.folds))} on {run.dataset}"
    page.heading(f"{name} ({run.path})", 2)
    slug = re.sub(r"[^A-Za-z0-9]+", "_", str(run.path))[-60:]
    page.figure(
        f"run_{slug}_folds",
        figures.fold_accuracies(r, name),
        "Per-fold accuracy with 95% Wilson intervals; the band is the pooled accuracy's interval.",
    )
    page.figure(
        f"run_{slug}_confusion", figures.confusion(r, name), "Confusion matrix of the pooled predictions."
    )
    if run.config is not None and r.protocol != "nested":
        page.figure(
            f"run_{slug}_architecture",
            figures.architecture(run.config, len(r.class_names), run.channels),
            "The evaluated architecture with its filter counts.",
        )
    if r.protocol == "nested" and (run.path / "nested.json").exists():
        chosen = json.loads((run.path / "nested.json").read_text()).get("chosen", [])
        rows = [
            [
                str(c["fold"]),
                c["config"]["model"]["activation"],
                str(c["config"]["model"]["temporal_kernel"]),
                c["config"]["model"]["pooling"],
                f"{c['config']['model']['dropout']:.2f}",
                c.get("note", ""),
            ]
            for c in chosen
        ]
        page.table(["outer fold", "activation", "temporal kernel", "pooling", "dropout", "search"], rows)


def build_report(paths: list[Path], out_dir: str | Path, *, progress: bool = True) -> tuple[Path, Path]:
    """Read the given folders and write ``report.html`` and ``report.md`` (+ ``figures/``) to ``out_dir``."""
    report_folder = has_entry("report.html", "report.md")
    check_output_folder(out_dir, report_folder, "report folder")  # before any work
    sources = discover([Path(p) for p in paths])
    page = Page()
    page.heading("fer3d report", 1)
    page.text(
        f"Generated {dt.datetime.now().isoformat(timespec='seconds')} from: "
        + ", ".join(f"`{p}`" for p in paths)
    )
    page.heading("Tables (measured, with the paper's published numbers beside them)", 2)
    _tables(page, sources)
    sections = [("search", s) for s in sources.searches] + [("run", r) for r in sources.runs]
    sections += [("run", r) for t in sources.transfers for r in t.arms.values()]
    for kind, item in tqdm(sections, desc="report", unit="section", disable=not progress):
        if kind == "search":
            _search_section(page, item)  # type: ignore[arg-type]
        else:
            _run_section(page, item)  # type: ignore[arg-type]
    out = claim_output_folder(out_dir, report_folder, "report folder")
    (out / "figures").mkdir(parents=True, exist_ok=True)
    for slug, png in page.figures.items():
        (out / "figures" / f"{slug}.png").write_bytes(png)
    html_path, md_path = out / "report.html", out / "report.md"
    html_path.write_text(render_html(page))
    md_path.write_text(render_markdown(page))
    return html_path, md_path


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(page: Page) -> str:
    out = []
    for kind, value in page.items:
        if kind == "heading":
            level, text = value  # type: ignore[misc]
            out.append(f"{'#' * level} {text}\n")
        elif kind == "text":
            out.append(f"{value}\n")
        elif kind == "table":
            headers, rows = value  # type: ignore[misc]
            out.append("| " + " | ".join(map(_md_cell, headers)) + " |")
            out.append("|" + "---|" * len(headers))
            out += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in rows]
            out.append("")
        elif kind == "figure":
            slug, caption = value  # type: ignore[misc]
            out.append(f"![{caption}](figures/{slug}.png)\n\n*{caption}*\n")
    return "\n".join(out)


def _inline(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text, quote=False))


STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1em}td,th{border:1px solid #ccc;padding:3px 8px;font-size:14px}
th{background:#f2f2f2}img{max-width:100%;border:1px solid #eee}figcaption{font-size:13px;color:#555}
code{background:#f5f5f5;padding:0 3px}"""


def render_html(page: Page) -> str:
    body = []
    for kind, value in page.items:
        if kind == "heading":
            level, text = value  # type: ignore[misc]
            body.append(f"<h{level}>{_inline(text)}</h{level}>")
        elif kind == "text":
            body.append(f"<p>{_inline(str(value))}</p>")
        elif kind == "table":
            headers, rows = value  # type: ignore[misc]
            head = "".join(f"<th>{_inline(h)}</th>" for h in headers)
            cells = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in rows)
            body.append(f"<table><tr>{head}</tr>{cells}</table>")
        elif kind == "figure":
            slug, caption = value  # type: ignore[misc]
            data = base64.b64encode(page.figures[slug]).decode()
            body.append(
                f'<figure id="{slug}"><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                f"<figcaption>{_inline(caption)}</figcaption></figure>"
            )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>fer3d report</title><style>{STYLE}</style>"
        f"</head><body>{''.join(body)}</body></html>\n"
    )
