"""The `innr-siren` compressor: recipes, size accounting, encode and decode."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import torch
from pydantic import Field
from torch import nn

from innr_bench.compress.base import CompressContext, Compressed, named_weights
from innr_bench.compress.innr.coords import coordinates, standardize, unstandardize
from innr_bench.compress.innr.fit import fit_full_batch
from innr_bench.compress.innr.siren import Siren, siren_parameter_count
from innr_bench.registry import COMPRESSORS

COORD_DIM = 5  # (cout, cin, h, w, layer)
STATS_BYTES = 8  # global mean and std, stored as two fp32 values
SAMPLE_CHUNK = 65_536  # coordinates per forward pass when sampling the INNR

# The study's notebook: SirenNet(5, 64, 1, 12 layers, w0_initial=100*pi, w0=1), Adam 5e-4,
# full batch, 2,000 epochs.
RECIPES: dict[str, dict[str, Any]] = {
    "seed": {"width": 64, "depth": 12, "w0": 1.0, "w0_initial": 100 * math.pi, "epochs": 2000,
             "lr": 5e-4},
}

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


@COMPRESSORS.register("innr-siren")
class InnrSiren:
    """INNR: a SIREN fit (data-free) from weight coordinates to values; recipe `seed` = the study."""

    data_free = True

    def __init__(
        self,
        *,
        recipe: Literal["seed"] = "seed",
        width: PositiveInt | None = None,  # None: the recipe's value
        depth: PositiveInt | None = None,
        w0: PositiveFloat | None = None,
        w0_initial: PositiveFloat | None = None,
        epochs: PositiveInt | None = None,
        lr: PositiveFloat | None = None,
    ) -> None:
        overrides = {"width": width, "depth": depth, "w0": w0, "w0_initial": w0_initial,
                     "epochs": epochs, "lr": lr}
        self.recipe = recipe
        self.settings = {**RECIPES[recipe], **{k: v for k, v in overrides.items() if v is not None}}

    def architecture(self) -> dict[str, Any]:
        s = self.settings
        return {"dim_in": COORD_DIM, "width": s["width"], "dim_out": 1, "depth": s["depth"],
                "w0": s["w0"], "w0_initial": s["w0_initial"]}

    def compress(self, model: nn.Module, ctx: CompressContext) -> Compressed:
        start = time.perf_counter()
        weights = named_weights(model)
        targets, mean, std = standardize(list(weights.values()))
        coords = coordinates([w.shape for w in weights.values()])
        architecture = self.architecture()
        torch.manual_seed(ctx.seed)
        siren = Siren(**architecture)
        fit = fit_full_batch(
            siren, coords, targets, epochs=self.settings["epochs"], lr=self.settings["lr"],
            device=ctx.device, progress=ctx.progress,
        )
        tensors = {f"siren.{k}": v.detach().cpu() for k, v in siren.state_dict().items()}
        tensors["stats"] = torch.tensor([mean, std], dtype=torch.float32)
        meta = {
            "recipe": self.recipe,
            "architecture": architecture,
            "names": list(weights),
            "shapes": [list(w.shape) for w in weights.values()],
        }
        n_params = siren_parameter_count(**{k: architecture[k] for k in
                                            ("dim_in", "width", "dim_out", "depth")})
        info = {**fit, "innr_parameters": n_params, "seconds": time.perf_counter() - start,
                "settings": self.settings}
        return Compressed("innr-siren", tensors, meta, 4 * n_params + STATS_BYTES, info)

    @staticmethod
    def decode(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Sample the SIREN at every coordinate and undo the standardization."""
        with torch.random.fork_rng(devices=[]):  # building the net must not move the global RNG
            siren = Siren(**meta["architecture"])
        state = {k.removeprefix("siren."): v for k, v in tensors.items() if k.startswith("siren.")}
        siren.load_state_dict(state)
        coords = coordinates(meta["shapes"])
        with torch.no_grad():
            values = torch.cat([siren(chunk).reshape(-1) for chunk in coords.split(SAMPLE_CHUNK)])
        mean, std = (float(v) for v in tensors["stats"])
        values = unstandardize(values, mean, std)
        sizes = [math.prod(shape) for shape in meta["shapes"]]
        return {
            name: block.reshape(shape)
            for name, block, shape in zip(meta["names"], values.split(sizes), meta["shapes"])
        }
