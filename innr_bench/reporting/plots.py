"""Plots from stored records (PNG and SVG): accuracy vs bytes, transfer heatmaps, accuracy vs eps."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import pandas as pd

from innr_bench.engine.store import atomic_write_bytes

matplotlib.rcParams["svg.hashsalt"] = "innr-bench"  # stable SVG element ids: same result, same file
REFERENCE_METHOD = "identity"
REFERENCE_MARKERS = ["X", "P", "D", "s"]  # published marks: hollow, black, never a measured colour
ZOOM_POINTS = 3.0


def family(label: str) -> str:
    """A method's family: its label without the grid values, 'ptq[bits=4]' -> 'ptq'."""
    return label.split("[", 1)[0]


# Measured families: filled, coloured, shapes other than the published marks'.
FAMILY_MARKERS = ("o", "^", "v", "<", ">", "h", "p", "8")
# tab20's ten dark hues first, then the ten light ones: the first ten families differ in hue.
FAMILY_COLOURS = tuple(plt.get_cmap("tab20")(i) for i in (*range(0, 20, 2), *range(1, 20, 2)))


def family_styles(families: Iterable[str]) -> dict[str, dict[str, Any]]:
    """A colour and a marker per method family, distinct for up to 20 families (matplotlib's
    default cycle repeats after ten, and a board has 16); the same families, the same styles."""
    return {name: {"color": FAMILY_COLOURS[i % len(FAMILY_COLOURS)],
                   "marker": FAMILY_MARKERS[i % len(FAMILY_MARKERS)]}
            for i, name in enumerate(sorted(set(families)))}


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def _draw(ax: Any, points: pd.DataFrame, original: float, fp32: float) -> None:
    """The original as a dashed line and a star, then one errorbar line per method family."""
    ax.axhline(original, color="black", linestyle="--", linewidth=1,
               label=f"original (fp32) {original:.2f} %")
    ax.plot([fp32], [original], marker="*", markersize=11, color="black", linestyle="none")
    measured = points[points["family"] != REFERENCE_METHOD]
    styles = family_styles(measured["family"])
    for name, fam in measured.groupby("family", sort=True):
        fam = fam.sort_values("bytes")
        ax.errorbar(fam["bytes"], fam["acc"] * 100, yerr=fam["std"] * 100, markersize=4,
                    capsize=3, linewidth=1.3, label=name, **styles[name])
    ax.set_xscale("log")
    ax.set_xlabel("stored bytes (log scale)")
    ax.grid(True, which="both", alpha=0.3)


def _draw_references(ax: Any, references: list[dict[str, Any]], fp32: float) -> None:
    """Published numbers as hollow black markers (✕, then other shapes), labelled: reference
    marks, not measurements."""
    for reference, marker in zip(references, REFERENCE_MARKERS * len(references)):
        x = reference.get("bytes") or (reference["ratio"] * fp32 if reference.get("ratio") else None)
        if x is None:
            continue
        ax.plot([x], [reference["accuracy"]], marker=marker, markersize=9, color="black",
                markerfacecolor="white", linestyle="none",
                label=f"published: {reference['method']} ({reference['label']})")


def accuracy_vs_bytes(
    long: pd.DataFrame, out_dir: Path, references: list[dict[str, Any]] | None = None
) -> list[Path]:
    """One figure per (data, target): a line per method family through its settings, ordered by
    bytes (log x), error bars = sample std over seeds, the original as a dashed reference line,
    and the suite's published references for the target as hollow black marks.
    Left panel: the whole accuracy range; right: zoomed to within ZOOM_POINTS of the original."""
    written: list[Path] = []
    for (data, source, target), frame in long.groupby(["data", "data source", "target"], sort=True):
        points = (frame.groupby("method", sort=False)
                  .agg(bytes=("size_bytes", "mean"), acc=("accuracy", "mean"), std=("accuracy", "std"))
                  .reset_index())
        points["std"] = points["std"].fillna(0.0)
        points["family"] = points["method"].map(family)
        original = float(frame["target_accuracy"].mean()) * 100
        fp32 = float(frame["size_bytes"].mean() / frame["ratio"].mean())
        published = [r for r in references or [] if r["target"] == target]
        fig, (full, zoom) = plt.subplots(1, 2, figsize=(12, 5.2), dpi=110)
        for ax in (full, zoom):
            _draw(ax, points, original, fp32)
            _draw_references(ax, published, fp32)
        lows, highs = (points["acc"] - points["std"]) * 100, (points["acc"] + points["std"]) * 100
        if published:  # keep the published marks in view
            lows = pd.concat([lows, pd.Series([r["accuracy"] for r in published])])
            highs = pd.concat([highs, pd.Series([r["accuracy"] for r in published])])
        low = max(0.0, min(float(lows.min()), original) - 1)
        high = max(float(highs.max()), original)
        full.set_ylim(low, min(101.0, high + max(0.5, (high - low) * 0.05)))
        full.set_ylabel("test accuracy %")
        full.set_title("all settings", fontsize=9)
        zoom.set_ylim(original - ZOOM_POINTS, min(101.0, max(high, original) + 0.5))
        zoom.set_title(f"zoom: within {ZOOM_POINTS:g} points of the original", fontsize=9)
        fig.suptitle(f"{target} on {data}: accuracy vs stored bytes "
                     "(mean ± std over seeds)", fontsize=11)
        handles, labels = full.get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8,
                   frameon=False)
        fig.text(0.5, 0.905, f"{data} [{source}]", fontsize=7, color="dimgray", ha="center")
        if published:
            fig.text(0.5, 0.88, "hollow black marks = published numbers (their authors' own runs, sizes as "
                     "published), not measured here", fontsize=7, color="dimgray", ha="center")
        fig.tight_layout(rect=(0, 0.1, 1, 0.9 if published else 0.93))
        written += _save(fig, out_dir / f"accuracy-vs-bytes-{slug(target)}-{slug(data)}")
    return written


def _save(fig: Any, stem: Path) -> list[Path]:
    paths = []
    for suffix in (".png", ".svg"):
        buffer = io.BytesIO()
        # no timestamps in the files, so an unchanged result gives an unchanged file
        fig.savefig(buffer, format=suffix[1:], metadata={"Date": None} if suffix == ".svg" else {})
        atomic_write_bytes(stem.with_suffix(suffix), buffer.getvalue())
        paths.append(stem.with_suffix(suffix))
    plt.close(fig)
    return paths


HEATMAP_METRICS = {"accuracy": "accuracy % under attack", "transfer_rate": "conditional transfer rate %"}


def transfer_heatmaps(long: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Per (data, target, attack, metric): one heatmap per eps > 0 of source (rows) x evaluated
    net (columns), mean over seeds, annotated in %."""
    written: list[Path] = []
    for (data, model, attack), frame in long.groupby(["data", "target_model", "attack"], sort=True):
        order = list(dict.fromkeys(frame["source"]))
        epsilons = sorted(e for e in frame["eps"].unique() if e > 0)
        if not epsilons:
            continue
        for metric, title in HEATMAP_METRICS.items():
            means = frame.groupby(["eps", "source", "evaluated"])[metric].mean()
            cols = min(4, len(epsilons))
            rows = -(-len(epsilons) // cols)
            size = 0.55 * len(order) + 1.2
            fig, axes = plt.subplots(rows, cols, figsize=(cols * size + 1, rows * size + 1.0), dpi=110,
                                     squeeze=False)
            for ax in axes.flat[len(epsilons):]:
                ax.axis("off")
            image = None
            for ax, eps in zip(axes.flat, epsilons):
                grid = means.loc[eps].unstack("evaluated").reindex(index=order, columns=order) * 100
                image = ax.imshow(grid.to_numpy(dtype=float), vmin=0, vmax=100, cmap="viridis")
                for i in range(len(order)):
                    for j in range(len(order)):
                        value = grid.iat[i, j]
                        if pd.notna(value):
                            ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=7,
                                    color="white" if value < 60 else "black")
                ax.set_xticks(range(len(order)), order, rotation=45, ha="right", fontsize=7)
                ax.set_yticks(range(len(order)), order, fontsize=7)
                ax.set_title(f"eps = {eps:g}", fontsize=9)
            axes[0][0].set_ylabel("crafted on", fontsize=8)
            fig.suptitle(f"{title}, {attack}: {model} on {data}\nrows: crafted on, "
                         "columns: evaluated on; mean over seeds", fontsize=9)
            fig.tight_layout(rect=(0, 0, 0.93, 0.92))
            if image is not None:
                fig.colorbar(image, ax=list(axes.flat), fraction=0.02, pad=0.02)
            where = f"{slug(attack)}-{slug(model)}-{slug(data)}"
            written += _save(fig, out_dir / f"transfer-{slug(metric)}-{where}")
    return written


def accuracy_vs_eps(long: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Per (data, target, attack): one panel per source net, a line per evaluated net, accuracy
    under attack vs eps with error bars = sample std over seeds."""
    written: list[Path] = []
    for (data, model, attack), frame in long.groupby(["data", "target_model", "attack"], sort=True):
        sources = list(dict.fromkeys(frame["source"]))
        fig, axes = plt.subplots(1, len(sources), figsize=(3.6 * len(sources), 3.8), dpi=110,
                                 sharey=True, squeeze=False)
        for ax, source in zip(axes[0], sources):
            stats = (frame[frame["source"] == source].groupby(["evaluated", "eps"], sort=False)["accuracy"]
                     .agg(["mean", "std"]).fillna(0.0) * 100)
            present = set(stats.index.get_level_values("evaluated"))
            for evaluated in dict.fromkeys(frame["evaluated"]):
                if evaluated not in present:  # not evaluated against this source's adversarials
                    continue
                curve = stats.loc[evaluated].sort_index()
                ax.errorbar(curve.index, curve["mean"], yerr=curve["std"], marker="o", markersize=3,
                            capsize=2, linewidth=1.2, label=evaluated,
                            linestyle="-" if evaluated == source else "--")
            ax.set_title(f"crafted on {source}", fontsize=9)
            ax.set_xlabel("eps (pixels)")
            ax.grid(True, alpha=0.3)
        axes[0][0].set_ylabel("accuracy % under attack")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8,
                   frameon=False, title="evaluated on (solid: white-box)", title_fontsize=8)
        fig.suptitle(f"{attack} transfer, {model} on {data} (mean ± std over seeds)",
                     fontsize=10)
        fig.tight_layout(rect=(0, 0.14, 1, 0.95))
        stem = out_dir / f"accuracy-vs-eps-{slug(attack)}-{slug(model)}-{slug(data)}"
        written += _save(fig, stem)
    return written
