"""Leaderboards from stored records only: reports never recompute anything."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from typing import Any

import pandas as pd
from tabulate import tabulate

from innr_bench.engine.records import RecordModel, finished, unpack_correct
from innr_bench.reporting import stats

FORMATS = ("md", "csv", "tex", "html")  # `latex` on the command line writes .tex
Section = tuple[str, pd.DataFrame]


def mean_std(values: pd.Series, scale: float = 1.0, digits: int = 2) -> str:
    """'mean ± std' (sample std over seeds); std is 'n/a' for a single seed."""
    values = values.dropna().astype(float) * scale
    if values.empty:
        return "n/a"
    std = values.std() if len(values) > 1 else math.nan
    shown = "n/a" if math.isnan(std) else f"{std:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {shown}"


def data_provenance(record: RecordModel) -> str:
    """Where a record's data came from, for display beside its label (never parsed back)."""
    d = record.dataset
    degraded = "OFFLINE FALLBACK " if d.warning else ""
    checked = "" if d.verified is None else ", canonical md5 verified" if d.verified else ", UNVERIFIED"
    return f"{degraded}{d.source}{checked}, {d.n_train} train / {d.n_test} test, sha256 {d.sha256[:12]}"


def _pareto(sizes: list[float], accuracies: list[float]) -> list[bool]:
    """True where no other row is at most as large and at least as accurate (one strictly)."""
    return [
        not any((s2 <= s and a2 >= a) and (s2 < s or a2 > a) for s2, a2 in zip(sizes, accuracies))
        for s, a in zip(sizes, accuracies)
    ]


def size_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per finished compressor cell (long format: a row per seed)."""
    return pd.DataFrame([{
        "data": r.dataset.label, "data source": data_provenance(r),
        "target": r.target.label, "method": r.component.label,
        "seed": r.seed, "size_bytes": r.size_bytes, "ratio": r.ratio,
        "accuracy": r.accuracy, "target_accuracy": r.target_accuracy, "delta": r.delta,
        "agreement": r.agreement, "compress_seconds": r.compress_seconds,
        "weight_rel_l2": r.weight_error.rel_l2, "data_free": r.data_free,
        "target_steps": r.target_train.get("steps"), "storage": r.info.get("storage", ""),
        "target_weights": (r.target.weights or {}).get("sha256"),
        "correct": r.correct,  # which test inputs it got right (schema 2 on)
        "degraded": r.degraded,  # why the result is degraded (engine/degraded.py)
    } for r in finished(records, "compressor")])


def reference_frame(references: list[dict[str, Any]], target: str) -> pd.DataFrame:
    """The suite's published references for one target, as a table of their own."""
    return pd.DataFrame([{
        "published in": r["label"], "method": r["method"],
        "bytes": "n/a" if r.get("bytes") is None else f"{r['bytes']:,}",
        "ratio": "n/a" if r.get("ratio") is None else f"{r['ratio']:.3f}",
        "accuracy %": f"{r['accuracy']:.2f}", "note": r.get("note", ""),
    } for r in references if r["target"] == target])


def accuracy_vs_size(
    long: pd.DataFrame, references: list[dict[str, Any]] | None = None, *,
    front_includes_degraded: bool = False,
) -> tuple[list[Section], pd.DataFrame]:
    """One section per (dataset, target): a row per compressor setting, mean ± std over seeds,
    followed by the published references for that target (never mixed into the measured rows).
    A setting with a degraded seed is marked (column `degraded`, only where one is) and kept off
    the pareto and front marks unless `front_includes_degraded`. `long`: `size_frame`'s rows."""
    if long.empty:
        return [], pd.DataFrame()
    sections = []
    summary_rows = []
    for (data, source, target), frame in long.groupby(["data", "data source", "target"], sort=True):
        table = []
        for method, runs in frame.groupby("method", sort=False):
            table.append({
                "method": method,
                "bytes": int(runs["size_bytes"].mean()),
                "ratio": round(float(runs["ratio"].mean()), 3),
                "accuracy %": mean_std(runs["accuracy"], 100),
                "original %": mean_std(runs["target_accuracy"], 100),
                "Δ pt": mean_std(runs["delta"], 100),
                "agreement %": mean_std(runs["agreement"], 100),
                "weight rel. L2": mean_std(runs["weight_rel_l2"], 1, 4),
                "compress s": round(float(runs["compress_seconds"].mean()), 1),
                "data-free": "yes" if runs["data_free"].all() else "no",
                "storage": " / ".join(dict.fromkeys(runs["storage"])),
                "seeds": len(runs),
                "Δ pt 95% CI": _interval(stats.paired_interval(list(runs["delta"]))),
                "_acc": float(runs["accuracy"].mean()),
                "_row": _stats_row(runs),
                "degraded": _degraded(runs),
            })
        frame_out = pd.DataFrame(table)
        marked = [front_includes_degraded or not d for d in frame_out["degraded"]]
        pareto = _marked(marked, lambda rows: _pareto([r["bytes"] for r in rows], [r["_acc"] for r in rows]),
                         frame_out)
        front = _marked(marked, lambda rows: stats.paired_front([r["_row"] for r in rows]), frame_out)
        frame_out.insert(1, "pareto", ["★" if p else "" for p in pareto])
        frame_out.insert(2, "front (same data)", ["★" if f else "" for f in front])
        if not frame_out["degraded"].any():  # the column only where something is degraded
            frame_out = frame_out.drop(columns=["degraded"])
        frame_out = (frame_out.sort_values(["_acc", "bytes"], ascending=[False, True])
                     .drop(columns=["_acc", "_row"]))
        sections.append((f"accuracy vs size — {target} on {data} [{source}]; {_made(frame)}", frame_out))
        published = reference_frame(references or [], target)
        if not published.empty:
            sections.append((f"published references for {target} (not measured here)", published))
        summary_rows.append(frame_out.assign(data=data, target=target, **{"data source": source}))
    return sections, pd.concat(summary_rows, ignore_index=True)


def _degraded(runs: pd.DataFrame) -> str:
    """'2/3 seeds: <first reason>' for a setting with degraded seeds, else ''."""
    flagged = [(seed, reasons) for seed, reasons in zip(runs["seed"], runs["degraded"]) if reasons]
    if not flagged:
        return ""
    kinds = len({reason.split(":", 1)[0] for _, reasons in flagged for reason in reasons})
    more = f" (+{kinds - 1} more kinds)" if kinds > 1 else ""
    return f"{len(flagged)}/{len(runs)} seeds: {flagged[0][1][0]}{more}"


def _marked(eligible: list[bool], rule: Callable[[list[dict[str, Any]]], list[bool]],
            frame: pd.DataFrame) -> list[bool]:
    """A front rule applied to the eligible rows only (the others are neither marked nor allowed to
    dominate), mapped back to every row."""
    rows = [row for row, ok in zip(frame.to_dict("records"), eligible) if ok]
    found = iter(rule(rows))
    return [next(found) if ok else False for ok in eligible]


def _interval(interval: stats.Interval) -> str:
    """'[low, high]' in points, or n/a (one seed)."""
    if interval.low is None or interval.high is None:
        return "n/a"
    return f"[{100 * interval.low:+.2f}, {100 * interval.high:+.2f}]"


def _stats_row(runs: pd.DataFrame) -> stats.Row:
    """A setting's per-seed accuracies (and per-input results where every seed's record has them)."""
    accuracy = {int(s): float(a) for s, a in zip(runs["seed"], runs["accuracy"], strict=True)}
    packed = list(runs["correct"])
    correct = None
    if packed and all(isinstance(p, dict) for p in packed):
        correct = {int(s): unpack_correct(p["bits"], int(p["n"]))
                   for s, p in zip(runs["seed"], packed, strict=True)}
    return stats.Row(float(runs["size_bytes"].mean()), "yes" if runs["data_free"].all() else "no",
                     accuracy, correct)


def _made(frame: pd.DataFrame) -> str:
    """How the target of a section came to be: trained here (its steps) or loaded from a file."""
    weights = sorted({w for w in frame["target_weights"] if isinstance(w, str)})
    if weights:
        return f"target loaded from weights sha256 {', '.join(w[:12] for w in weights)}"
    return f"target trained {sorted(set(frame['target_steps']))} steps"


def transfer_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (attack record, eps, source net, evaluated net): long format, a row per seed."""
    frame = pd.DataFrame([{
        "data": r.dataset.label, "data source": data_provenance(r), "target_model": r.target.label,
        "attack": r.component.label, "seed": r.seed, "n_attacked": r.n_attacked, **cell.model_dump(),
    } for r in finished(records, "attack") for cell in r.transfer])
    return frame


def transfer(long: pd.DataFrame) -> tuple[list[Section], pd.DataFrame]:
    """Per (dataset, target, attack, eps): source x evaluated-net matrices of accuracy and transfer
    rates, from `transfer_frame`'s rows."""
    if long.empty:
        return [], pd.DataFrame()
    keys = ["data", "data source", "target_model", "attack", "eps", "source", "evaluated"]
    summary = (long.groupby(keys, sort=True)
               .agg(accuracy_mean=("accuracy", "mean"), accuracy_std=("accuracy", "std"),
                    transfer_rate_mean=("transfer_rate", "mean"),
                    transfer_rate_std=("transfer_rate", "std"),
                    relative_transfer_mean=("relative_transfer", "mean"),
                    relative_transfer_std=("relative_transfer", "std"), seeds=("seed", "nunique"))
               .reset_index())
    sections: list[Section] = []
    for (label, source, model, attack), frame in long.groupby(
            ["data", "data source", "target_model", "attack"], sort=True):
        data = f"{label} [{source}]"
        inputs = "/".join(f"{int(n):,}" for n in sorted(frame["n_attacked"].dropna().unique()))
        attack = f"{attack} ({inputs} test inputs)" if inputs else attack  # the attack's `limit`
        curve = frame.groupby(["source", "evaluated", "eps"], sort=False)["accuracy"].apply(
            lambda s: mean_std(s, 100)).unstack("eps").reset_index()
        curve.columns = [f"eps {c:g}" if isinstance(c, float) else c for c in curve.columns]
        curve = curve.rename(columns={"source": "crafted on", "evaluated": "evaluated on"})
        sections.append((f"accuracy % under {attack} vs eps — {model} on {data}", curve))
        for eps, at_eps in frame.groupby("eps", sort=True):
            for metric, label in (("accuracy", "accuracy % under attack"),
                                  ("transfer_rate", "conditional transfer rate %"),
                                  ("relative_transfer", "relative transfer %")):
                matrix = at_eps.groupby(["source", "evaluated"], sort=False)[metric].apply(
                    lambda s: mean_std(s, 100)).unstack("evaluated").reset_index()
                matrix = matrix.rename(columns={"source": "crafted on ↓ / evaluated on →"})
                sections.append((f"{label}, {attack} eps={eps:g} — {model} on {data}", matrix))
    return sections, summary


TRANSFER_CAPTION = (
    "Rows: the net the adversarial examples are crafted on; columns: the net evaluated. "
    "Accuracy under attack = fraction of attacked test inputs the evaluated net still classifies "
    "correctly. Conditional transfer rate = of the inputs both nets classify correctly when clean "
    "and whose adversarial fools the source net, the fraction that also fools the evaluated net. "
    "Relative transfer = the evaluated net's attack success (1 - accuracy under attack) divided by "
    "the source net's white-box success on its own adversarials (100 % on the diagonal). "
    "`control` = an independently trained copy of the target (same architecture and training, "
    "another seed): transfer to it is the baseline that transfer to a compressed copy is compared "
    "with. Mean ± sample std over seeds."
)
SIZE_CAPTION = (
    "bytes = exact bytes one must store to rebuild the weights, equal to the payload of the "
    "serialized representation (values at their stored width: fp32 for `identity`; codes packed "
    "at their bit width plus fp32 scales and packed zero points for quantization; packed indices "
    "plus fp32 codebooks for k-means sharing; for pruning, the kept positions as a bitmap or "
    "packed indices, whichever is smaller, plus the kept values; INNR weights at their storage "
    "precision (fp16, or integer codes bit-packed, Huffman- or NNC-coded, plus per-tensor scales) "
    "plus standardization stats; for `nnc`, the NNC bitstream; every method also stores the "
    "target's buffers, such as batch-norm statistics, at their own dtype); ratio = bytes / fp32 "
    "bytes of the target. "
    "Δ = accuracy minus the original's, in points. agreement = fraction of test inputs where the "
    "compressed copy predicts the original's class. pareto ★ = Pareto-optimal (no row smaller and "
    "more accurate). Δ pt 95% CI = Student's t interval of the per-seed differences from the "
    "original (each copy is paired with the target it compresses). front (same data) ★ = the "
    "fair-company test, paired, a staircase by bytes: no row with the same data access (data-free "
    "or not) and at most the bytes is significantly more accurate, and the row is significantly "
    "more accurate than every front row of that access with fewer bytes; significantly = the "
    "95% t interval of the per-seed accuracy differences lies above zero, or, where the records "
    "hold which test inputs each copy got right, McNemar's exact test over the inputs two copies "
    "disagree on, pooled over seeds, at p < 0.05. storage = what is stored (for pruning: whether "
    "the kept positions are a bitmap or packed indices). data-free = the method never saw "
    "training or test images (no = fine-tuned on the training set). Mean ± sample std over "
    "seeds. Published references (from the suite's "
    "`references`) are the numbers a paper reports for its own runs, in a table of their own and "
    "as hollow black marks on the plots; they are never computed here."
)


def html_table(frame: pd.DataFrame) -> str:
    """A DataFrame as a sortable HTML table, every value escaped: the one HTML table renderer
    (the leaderboards' .html files and the site)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape('' if pd.isna(v) else str(v))}</td>" for v in row)
                   + "</tr>\n" for row in frame.itertuples(index=False))
    return f"<table class=\"sortable\"><thead><tr>{head}</tr></thead><tbody>\n{rows}</tbody></table>\n"


def html_sections(sections: list[Section]) -> str:
    """Titled sections as HTML: a heading and a sortable table each."""
    return "\n".join(f"<h3>{html.escape(title)}</h3>\n{html_table(frame)}" for title, frame in sections)


def render(sections: list[Section], fmt: str, caption: str) -> str:
    """Sections as one markdown, LaTeX (booktabs) or HTML document."""
    if fmt == "html":
        return f"<p>{html.escape(caption)}</p>\n\n" + html_sections(sections)
    styles: dict[str, tuple[str, Callable[[str], str], Callable[[str], str]]] = {
        "md": ("github", lambda t: f"### {t}\n", lambda c: f"{c}\n"),
        "tex": ("latex_booktabs", lambda t: f"% {t}\n", lambda c: f"% {c}\n"),
    }
    tablefmt, heading, note = styles[fmt]
    parts = [note(caption)]
    for title, frame in sections:
        parts.append(heading(title))
        parts.append(tabulate(frame, headers="keys", tablefmt=tablefmt, showindex=False,
                              disable_numparse=True) + "\n")
    return "\n".join(parts)
