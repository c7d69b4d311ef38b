"""The inheritance board: for every compressed copy, what it inherits from the original under
attack (accuracy under the original's adversarials, conditional and relative transfer), its own
white-box robustness, beside its bytes, clean accuracy, agreement and weight error; and plots of
transfer against bytes and against agreement, one line per method family, the control as a band.

Built from stored records only: attack records' `inheritance` rows joined with the compressor
records of the same (data, target, seed, setting)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from innr_bench.config import CONTROL, ORIGINAL
from innr_bench.engine.records import finished
from innr_bench.reporting.plots import _save, family, family_styles, slug
from innr_bench.reporting.report import Section, data_provenance, mean_std

CAPTION = (
    "One row per compressed copy (every method and budget), at the headline eps, mean ± std over "
    "seeds. under original's attack = the copy's accuracy on adversarials crafted on the original "
    "(crafted once and reused for every copy). transfer rate = of the inputs both nets classify "
    "right and the original's adversarial fools the original, the fraction that also fool the copy "
    "(conditional transfer). relative transfer = the copy's attack success over the original's "
    "white-box success. white-box = the copy's accuracy under the same attack crafted on itself. "
    "control = an independently trained net of the same architecture (the next seed): the transfer "
    "any similar net shows, for scale. original = the white-box row of the original itself."
)
FIELDS = ("accuracy", "transfer_rate", "relative_transfer", "whitebox_accuracy")


def inheritance_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per (attack record, eps, net): the board's measurements with the net's bytes,
    clean accuracy, agreement and weight error (long format: a row per seed)."""
    compressors = {(r.dataset.label, r.target.label, r.seed, r.component.label): r
                   for r in finished(records, "compressor")}
    any_copy = {key[:3]: c for key, c in compressors.items()}  # the original's size and accuracy
    rows = []
    for r in finished(records, "attack"):
        if not r.inheritance:
            continue
        data, target, seed = r.dataset.label, r.target.label, r.seed
        for row in r.inheritance:
            net = row.net
            copy = compressors.get((data, target, seed, net))
            described: dict[str, Any]
            if net == ORIGINAL:
                reference = any_copy.get((data, target, seed))
                described = {"size_bytes": None if reference is None else reference.fp32_bytes,
                             "ratio": 1.0, "clean": None if reference is None else reference.target_accuracy,
                             "agreement": 1.0, "weight_rel_l2": 0.0}
            elif net == CONTROL:
                described = {"clean": (r.control or {}).get("accuracy")}
            elif copy is not None:
                described = {"size_bytes": copy.size_bytes, "ratio": copy.ratio, "clean": copy.accuracy,
                             "agreement": copy.agreement, "weight_rel_l2": copy.weight_error.rel_l2,
                             "data_free": copy.data_free}
            else:
                described = {}
            rows.append({"data": data, "data source": data_provenance(r), "target": target,
                         "attack": r.component.label, "whitebox_only": r.whitebox_only,
                         "seed": seed, "eps": row.eps, "net": net, "n": row.n,
                         **{f: getattr(row, f) for f in FIELDS}, **described})
    return pd.DataFrame(rows)


def suite_headline_eps(suite: dict[str, Any]) -> float | None:
    """The suite's `eval.headline_eps` as its manifest records it (None: not set)."""
    return suite.get("eval", {}).get("headline_eps")


def headline(frame: pd.DataFrame, eps: float | None) -> float:
    """The eps shown: the suite's `headline_eps` when the attack has it, else its largest."""
    available = sorted(frame["eps"].unique())
    return eps if eps is not None and eps in available else float(available[-1])


def _percent(values: pd.Series) -> str:
    values = values.dropna()
    return "n/a" if values.empty else mean_std(values, 100)


def leaderboard(long: pd.DataFrame, headline_eps: float | None = None) -> list[Section]:
    """One section per (data, target, attack) of `inheritance_frame`: a row per net at the
    headline eps."""
    if long.empty:
        return []
    sections = []
    for (data, source, target, attack), frame in long.groupby(["data", "data source", "target", "attack"],
                                                              sort=True):
        eps = headline(frame, headline_eps)
        at = frame[frame["eps"] == eps]
        control = at[at["net"] == CONTROL]
        table = []
        for net, runs in at.groupby("net", sort=False):
            sizes = runs["size_bytes"].dropna() if "size_bytes" in runs else pd.Series(dtype=float)
            table.append({
                "net": net,
                "bytes": int(sizes.mean()) if not sizes.empty else "",
                "ratio": round(float(runs["ratio"].mean()), 3) if runs["ratio"].notna().any() else "",
                "clean %": _percent(runs["clean"]),
                "agreement %": _percent(runs["agreement"]) if net != CONTROL else "",
                "weight rel. L2": (mean_std(runs["weight_rel_l2"].dropna(), 1, 4)
                                   if runs["weight_rel_l2"].notna().any() else ""),
                "under original's attack %": _percent(runs["accuracy"]),
                "transfer rate %": _percent(runs["transfer_rate"]),
                "relative transfer %": _percent(runs["relative_transfer"]),
                "white-box %": _percent(runs["whitebox_accuracy"]),
                "n": int(runs["n"].iloc[0]), "seeds": runs["seed"].nunique(),
                "_bytes": float(sizes.mean()) if not sizes.empty else math.inf,
            })
        frame_out = pd.DataFrame(table).sort_values("_bytes").drop(columns="_bytes")
        scale = (f"; control's transfer rate {_percent(control['transfer_rate'])} %"
                 if not control.empty and control["transfer_rate"].notna().any() else "")
        kind = "white-box only" if frame["whitebox_only"].all() else "crafted on the original"
        sections.append((f"inheritance under {attack} ({kind}) at eps {eps:g} — {target} on {data} "
                         f"[{source}]{scale}", frame_out))
    return sections


CORRELATION_CAPTION = (
    "What the transfer rate follows: over the compressed copies of one target (every method and "
    "budget; the original and the control left out), each copy's transfer rate at the headline "
    "eps (mean over seeds) ranked against its agreement with the original, its weight error "
    "(relative L2), its stored bytes and its clean accuracy: Spearman's rank correlation (rho), "
    "from -1 to 1. Near 1 or -1: the copies' order by that measure is their order by transfer."
)
PREDICTORS = {"agreement": "agreement", "weight_rel_l2": "weight rel. L2", "size_bytes": "bytes",
              "clean": "clean accuracy"}


def spearman(x: pd.Series, y: pd.Series) -> float:
    """Spearman's rho as the Pearson correlation of average ranks (no SciPy); NaN if undefined."""
    both = pd.concat([x, y], axis=1).dropna()
    if len(both) < 3:
        return math.nan
    return float(both.iloc[:, 0].rank().corr(both.iloc[:, 1].rank()))


def correlations(long: pd.DataFrame, headline_eps: float | None = None) -> list[Section]:
    """One section: a row per (data, target, attack crafted on the original) of `inheritance_frame`
    with the rank correlation of the copies' transfer rate with each of `PREDICTORS`."""
    if long.empty:
        return []
    table = []
    for (data, target, attack), frame in long.groupby(["data", "target", "attack"], sort=True):
        if frame["whitebox_only"].all():
            continue  # nothing transfers
        eps = headline(frame, headline_eps)
        at = frame[frame["eps"] == eps]
        copies = at[~at["net"].isin([ORIGINAL, CONTROL])]
        # None (no input to count) makes a column object-typed: read every field as numbers
        fields = ["transfer_rate", *(f for f in PREDICTORS if f in copies)]
        numbers = copies[fields].apply(pd.to_numeric, errors="coerce").assign(net=copies["net"])
        means = numbers.groupby("net")[fields].mean()
        ranked = int(means["transfer_rate"].notna().sum())
        if ranked < 3:
            continue
        row: dict[str, Any] = {"data": data, "target": target, "attack": attack, "eps": f"{eps:g}",
                               "copies": ranked}
        for field, name in PREDICTORS.items():
            rho = spearman(means["transfer_rate"], means[field]) if field in means else math.nan
            row[f"rho vs {name}"] = "n/a" if math.isnan(rho) else f"{rho:+.2f}"
        table.append(row)
    if not table:
        return []
    return [("transfer rate's rank correlation over the compressed copies", pd.DataFrame(table))]


def plots(long: pd.DataFrame, out_dir: Path, headline_eps: float | None = None) -> list[Path]:
    """Per (data, target, attack) of `inheritance_frame`: conditional transfer rate vs bytes and
    vs agreement, one line (or set of points) per method family, mean ± std over seeds; the
    control as a band."""
    if long.empty:
        return []
    written: list[Path] = []
    for (data, target, attack), frame in long.groupby(["data", "target", "attack"], sort=True):
        if frame["whitebox_only"].all():
            continue  # nothing transfers
        eps = headline(frame, headline_eps)
        at = frame[frame["eps"] == eps]
        copies = at[~at["net"].isin([ORIGINAL, CONTROL])].copy()
        if copies.empty:
            continue
        points = (copies.groupby("net", sort=False)
                  .agg(bytes=("size_bytes", "mean"), agreement=("agreement", "mean"),
                       rate=("transfer_rate", "mean"), std=("transfer_rate", "std"))
                  .reset_index())
        points["std"] = points["std"].fillna(0.0)
        points["family"] = points["net"].map(family)
        control = at[at["net"] == CONTROL]["transfer_rate"].dropna()
        styles = family_styles(points["family"])
        fig, (by_bytes, by_agreement) = plt.subplots(1, 2, figsize=(12, 5), dpi=110)
        for ax, x, label in ((by_bytes, "bytes", "stored bytes (log scale)"),
                             (by_agreement, "agreement", "agreement with the original (clean test set)")):
            if not control.empty:
                spread = control.std(ddof=1 if len(control) > 1 else 0)
                low, high = (control.mean() - spread) * 100, (control.mean() + spread) * 100
                ax.axhspan(low, high, color="gray", alpha=0.25,
                           label=f"control (independent net): {control.mean() * 100:.1f} %")
                ax.axhline(control.mean() * 100, color="gray", linewidth=1)
            for name, fam in points.groupby("family", sort=True):
                fam = fam.sort_values(x)
                ax.errorbar(fam[x] * (1 if x == "bytes" else 100), fam["rate"] * 100, yerr=fam["std"] * 100,
                            markersize=4, capsize=3, linewidth=1.2 if x == "bytes" else 0,
                            elinewidth=1, label=name, **styles[name])
            if x == "bytes":
                ax.set_xscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel("conditional transfer rate % (from the original)")
            ax.grid(True, which="both", alpha=0.3)
        handles, labels = by_bytes.get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8, frameon=False)
        fig.suptitle(f"Inheritance under {attack} at eps {eps:g}: {target} on {data} (mean ± std over seeds)",
                     fontsize=11)
        fig.tight_layout(rect=(0, 0.1, 1, 0.95))
        written += _save(fig, out_dir / f"inheritance-{slug(attack)}-{slug(target)}-{slug(data)}")
    return written
