"""Accuracy-vs-bytes plots from the accuracy-vs-size records (PNG and SVG)."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import pandas as pd

from innr_bench.store import atomic_write_bytes

REFERENCE_METHOD = "identity"
ZOOM_POINTS = 3.0


def family(label: str) -> str:
    """A method's family: its label without the grid values, 'ptq[bits=4]' -> 'ptq'."""
    return label.split("[", 1)[0]


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def _draw(ax: Any, points: pd.DataFrame, original: float, fp32: float) -> None:
    """The original as a dashed line and a star, then one errorbar line per method family."""
    ax.axhline(original, color="black", linestyle="--", linewidth=1,
               label=f"original (fp32) {original:.2f} %")
    ax.plot([fp32], [original], marker="*", markersize=11, color="black", linestyle="none")
    for name, fam in points[points["family"] != REFERENCE_METHOD].groupby("family", sort=True):
        fam = fam.sort_values("bytes")
        ax.errorbar(fam["bytes"], fam["acc"] * 100, yerr=fam["std"] * 100, marker="o", markersize=4,
                    capsize=3, linewidth=1.3, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("stored bytes (log scale)")
    ax.grid(True, which="both", alpha=0.3)


def accuracy_vs_bytes(long: pd.DataFrame, out_dir: Path) -> list[Path]:
    """One figure per (data, target): a line per method family through its settings, ordered by
    bytes (log x), error bars = sample std over seeds, the original as a dashed reference line.
    Left panel: the whole accuracy range; right: zoomed to within ZOOM_POINTS of the original."""
    written: list[Path] = []
    for (data, target), frame in long.groupby(["data", "target"], sort=True):
        points = (frame.groupby("method", sort=False)
                  .agg(bytes=("size_bytes", "mean"), acc=("accuracy", "mean"), std=("accuracy", "std"))
                  .reset_index())
        points["std"] = points["std"].fillna(0.0)
        points["family"] = points["method"].map(family)
        original = float(frame["target_accuracy"].mean()) * 100
        fp32 = float(frame["size_bytes"].mean() / frame["ratio"].mean())
        fig, (full, zoom) = plt.subplots(1, 2, figsize=(12, 5.2), dpi=110)
        for ax in (full, zoom):
            _draw(ax, points, original, fp32)
        lows, highs = (points["acc"] - points["std"]) * 100, (points["acc"] + points["std"]) * 100
        low = max(0.0, min(float(lows.min()), original) - 1)
        high = max(float(highs.max()), original)
        full.set_ylim(low, min(101.0, high + max(0.5, (high - low) * 0.05)))
        full.set_ylabel("test accuracy %")
        full.set_title("all settings", fontsize=9)
        zoom.set_ylim(original - ZOOM_POINTS, min(101.0, max(high, original) + 0.5))
        zoom.set_title(f"zoom: within {ZOOM_POINTS:g} points of the original", fontsize=9)
        fig.suptitle(f"{target} on {data.split(' [')[0]}: accuracy vs stored bytes "
                     "(mean ± std over seeds)", fontsize=11)
        handles, labels = full.get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), fontsize=8,
                   frameon=False)
        fig.text(0.5, 0.905, data, fontsize=7, color="dimgray", ha="center")
        fig.tight_layout(rect=(0, 0.1, 1, 0.93))
        stem = out_dir / f"accuracy-vs-bytes-{slug(target)}-{slug(data.split(' [')[0])}"
        for suffix in (".png", ".svg"):
            buffer = io.BytesIO()
            # no timestamps in the files, so an unchanged result gives an unchanged file
            fig.savefig(buffer, format=suffix[1:], metadata={"Date": None} if suffix == ".svg" else {})
            atomic_write_bytes(stem.with_suffix(suffix), buffer.getvalue())
            written.append(stem.with_suffix(suffix))
        plt.close(fig)
    return written
