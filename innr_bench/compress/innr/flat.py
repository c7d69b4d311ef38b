"""innr-siren's flat options: the SIREN presets written as one level of keys (`width`,
`epochs`, `distill_steps`, ...), as the published suites use them, and back into parts.

`flatten` writes a preset's spec as flat settings; `nest` turns (complete) flat settings into
the parts `spec.resolve` takes. Records made before the INNR was built from parts hold their
settings in this flat form (`info.settings`), so the same `nest` reads them back (`migrate`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from innr_bench.errors import ConfigError

FIELD = ("width", "depth", "w0", "w0_initial")
WEIGHTS = ("epochs", "lr", "schedule", "warmup", "solve_every")
STORAGE = ("precision", "bits", "entropy")
# flat option -> the distill stage's option
DISTILL = {"distill_steps": "steps", "distill_inputs": "inputs", "distill_lr": "lr",
           "distill_temperature": "temperature", "distill_batch": "batch",
           "distill_weight_loss": "weight_loss", "distill_label_loss": "label_loss",
           "distill_pool": "pool", "distill_pool_steps": "pool_steps", "learn_stats": "learn_stats"}
# What a flat setting means when a spec has no such stage (what every recipe ran before
# refitting and distillation existed): no QAT, no distillation, and the distill stage's defaults.
PLAIN = {"normalize": "tensor", "bits": 8, "entropy": "none", "qat_epochs": 0, "distill_steps": 0,
         "distill_inputs": "data", "distill_lr": 5e-4, "distill_temperature": 1.0,
         "distill_batch": 256, "distill_weight_loss": 0.0, "distill_label_loss": 0.0,
         "distill_pool": 2000, "distill_pool_steps": 200, "learn_stats": True}


def flatten(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A SIREN spec's flat settings (every key innr-siren knows); ValueError if it has parts
    the flat options cannot say (another field or layout, a stage option of its own)."""
    layout, field = spec["layout"], spec["field"]
    if field["name"] != "siren" or layout["name"] not in ("scalar", "rows"):
        raise ValueError(f"innr-siren speaks of SIREN fields on scalar or rows layouts, not "
                         f"{field['name']} on {layout['name']}")
    flat: dict[str, Any] = dict(PLAIN)
    flat |= {"layout": layout["name"], "block": layout.get("block", 1),
             "normalize": layout.get("normalize", "tensor")}
    flat |= {k: field[k] for k in FIELD} | {k: spec["storage"][k] for k in STORAGE}
    stages = [s["name"] for s in spec["fit"]]
    if stages[:1] != ["weights"] or len(set(stages)) != len(stages):
        raise ValueError(f"innr-siren fits weights first, each stage once; this spec has {stages}")
    for stage in spec["fit"]:
        if stage["name"] == "weights":
            flat |= {k: stage[k] for k in WEIGHTS}
        elif stage["name"] == "qat":
            flat["qat_epochs"] = stage["epochs"]
        elif stage["name"] == "distill":
            flat |= {key: stage[option] for key, option in DISTILL.items()}
    return flat


def nest(flat: Mapping[str, Any], recipe: str) -> dict[str, Any]:
    """The parts (layout, field, fit, storage) of complete flat settings; ConfigError with the
    flat key for what only the flat form can get wrong."""
    if flat["layout"] == "scalar":
        if flat["block"] != 1:
            raise ConfigError(f"block: {flat['block']!r} is invalid (recipe {recipe!r} predicts one weight "
                              "per query; use recipe 'fast' for blocks)")
        if flat["normalize"] == "row":
            raise ConfigError("normalize: 'row' needs the rows layout (recipe 'fast'); the seed "
                              "recipe standardizes all weights together")
        layout: dict[str, Any] = {"name": "scalar"}
    else:
        layout = {"name": "rows", "block": flat["block"], "normalize": flat["normalize"]}
    fit: list[dict[str, Any]] = [{"name": "weights", **{k: flat[k] for k in WEIGHTS}}]
    if flat["qat_epochs"]:
        fit.append({"name": "qat", "epochs": flat["qat_epochs"]})  # lr: a tenth of the fit's
    if flat["distill_steps"]:
        fit.append({"name": "distill", **{option: flat[key] for key, option in DISTILL.items()}})
    return {"layout": layout, "field": {"name": "siren", **{k: flat[k] for k in FIELD}},
            "fit": fit, "storage": {k: flat[k] for k in STORAGE}}


def namer(stages: list[str]) -> Callable[[str], str]:
    """Nested spec paths named as innr-siren's flat options (for its error messages); `stages`:
    the names of the fit stages, in order."""
    by_option = {option: key for key, option in DISTILL.items()}

    def name(path: str) -> str:
        head, _, key = path.partition(".")
        if head in ("field", "storage", "layout"):
            return key or head
        if head.startswith("fit[") and key:
            stage = stages[int(head[4:-1])]
            if stage == "qat":
                return f"qat_{key}"
            return by_option.get(key, key) if stage == "distill" else key
        return path

    return name
