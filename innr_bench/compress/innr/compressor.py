"""The INNR compressors: `innr` (an INNR from parts: a preset and any layout, field, fit stages
and storage) and `innr-siren` (the SIREN presets with flat options, as published suites use them).

Both resolve to one `InnrSpec` and share everything else: the layout's encoding, the budget's
size search, the stages, storage, byte counting and decoding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Annotated, Any

import torch
from pydantic import Field
from torch import nn

from innr_bench.compress import nnc_codec
from innr_bench.compress.base import (
    BaseCompressor,
    CompressContext,
    Encoding,
    fp32_bytes,
    named_weights,
    payload_bytes,
    with_buffers,
)
from innr_bench.compress.innr import flat, storage
from innr_bench.compress.innr.budget import choose_part_sizes, choose_size
from innr_bench.compress.innr.distill import Inputs
from innr_bench.compress.innr.fields.base import build_field, describe, size_knob
from innr_bench.compress.innr.layouts import Layout, Normalize, build_layout
from innr_bench.compress.innr.loop import Schedule
from innr_bench.compress.innr.partition import PartitionedField
from innr_bench.compress.innr.spec import (
    DEFAULT_PRESET,
    DEFAULT_RATIO,
    PRESETS,
    SCALABLE_PRESET,
    InnrSpec,
    preset,
    resolve,
)
from innr_bench.compress.innr.stages import Stage, WeightFit
from innr_bench.compress.innr.state import Checkpoint, FitState
from innr_bench.compress.innr.together import fit_weights_together
from innr_bench.errors import ConfigError, InnrBenchError
from innr_bench.params import PositiveFloat, PositiveInt, Ratio
from innr_bench.registry import COMPRESSORS, FIELDS

SAMPLE_CHUNK = 65_536  # queries per forward pass when sampling the field
FIELD_PREFIX = "field."  # stored tensors: the field's own, under this prefix; "stats"


class InnrCompressor(BaseCompressor):
    """An INNR built from a resolved spec; subclasses say how a suite's params become one."""

    spec: InnrSpec

    def resolved_spec(self) -> dict[str, Any]:
        """What a cell's key hashes: the spec with every default filled in, and the NNC codec's
        version where it codes the field (another version may code it into other bytes)."""
        spec = self.spec.to_dict()
        if spec["storage"]["entropy"] == "nnc":
            spec["nncodec"] = nnc_codec.version()  # a suite asking for it without the extra stops here
        return spec

    @property
    def data_free(self) -> bool:  # type: ignore[override]
        return self.spec.data_free

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> InnrCompressor:
        """The INNR its resolved spec names, built from the spec alone (`InnrSpec.from_dict`);
        the NNC codec, where it codes the field, only at the spec's version."""
        if "nncodec" in spec:
            nnc_codec.require_version(spec["nncodec"])
        compressor = cls.__new__(cls)
        compressor.spec = InnrSpec.from_dict(spec)
        return compressor

    @classmethod
    def fits_together(cls, spec: Mapping[str, Any]) -> bool:
        """Whether copies of this resolved spec can share a batched first stage: a weight fit."""
        fit = spec.get("fit") or [{}]
        return fit[0].get("name") == "weights"

    def encode(
        self, model: nn.Module, ctx: CompressContext, checkpoint: Checkpoint | None = None,
        checkpoint_every: int = 25, **options: Any,
    ) -> Encoding:
        """Fit the INNR; `checkpoint(epoch, fit_seconds)` may inspect `self.partial` while the
        weights are fit."""
        fit = self._prepare(model, ctx, checkpoint, checkpoint_every)
        for stage in fit.stages:
            fit.info |= stage.run(fit.state)
        return self._finish(fit)

    def encode_together(self, models: Sequence[nn.Module],
                        ctxs: Sequence[CompressContext]) -> list[Encoding | Exception]:
        """One INNR per model (its own seed, data and target), their weight fits run as one
        batched fit (`together.py`), the later stages one at a time. A member that fails is its
        exception in the list, the others go on; if the batched fit itself fails (a divergence,
        memory), every member is fit alone. Bad input (ConfigError) stops all."""
        fits = [self._prepare(model, ctx) for model, ctx in zip(models, ctxs, strict=True)]
        first = fits[0].stages[0]
        if not isinstance(first, WeightFit):
            raise TypeError(f"{self.name}: only a first weight-fit stage is fit together, "
                            f"not {type(first).__name__}")
        try:
            shared = fit_weights_together(first, [fit.state for fit in fits])
        except InnrBenchError:
            raise
        except Exception as error:  # a divergence or memory: each member alone, so one cannot fail all
            why = f"the batched fit failed ({type(error).__name__}: {error}): fit alone"
            return [self._alone(model, ctx, why) for model, ctx in zip(models, ctxs, strict=True)]
        made: list[Encoding | Exception] = []
        for fit, info in zip(fits, shared, strict=True):
            fit.info |= info
            try:
                for stage in fit.stages[1:]:  # their draws: generators of their own seed, not the global one
                    fit.info |= stage.run(fit.state)
                made.append(self._finish(fit))
            except InnrBenchError:
                raise
            except Exception as error:
                made.append(error)
        return made

    def _alone(self, model: nn.Module, ctx: CompressContext, why: str) -> Encoding | Exception:
        try:
            encoding = self.encode(model, ctx)
        except InnrBenchError:
            raise
        except Exception as error:
            return error
        encoding.info["fit_group"] = {"members": 1, "why": why}
        return encoding

    def _prepare(self, model: nn.Module, ctx: CompressContext, checkpoint: Checkpoint | None = None,
                 checkpoint_every: int = 25) -> _Fit:
        """Everything before the stages: the layout's queries, the size the budget allows, the
        field initialized from the context's seed."""
        spec, store = self.spec, self.spec.storage_spec()
        weights = named_weights(model)
        names, shapes = list(weights), [list(w.shape) for w in weights.values()]
        layout = build_layout(spec.layout)
        encoded = layout.encode(weights)
        dims = layout.dims(shapes)
        fixed_bytes = payload_bytes({"stats": encoded.stats, **dict(model.named_buffers())})
        field_spec, budget = dict(spec.field), None
        parts = spec.partition_spec()
        sizes = parts.sizes(len(encoded.coords), dims[1]) if parts is not None else None
        knobs: list[Any] | None = None
        if spec.budget is not None:
            budget = spec.budget.get("bytes") or int(spec.budget["ratio"] * fp32_bytes(model))
            asked = (f"ratio {spec.budget['ratio']:g} ({budget:,} bytes)" if spec.budget.get("ratio")
                     else f"bytes {budget:,}")
            if sizes is None:
                field_spec[spec.knob] = choose_size(field_spec, spec.knob, dims, store, fixed_bytes, budget,
                                                    asked=asked, who=self.name)
            else:
                knobs = choose_part_sizes(field_spec, spec.knob, dims, store, fixed_bytes, budget, sizes,
                                          asked=asked, who=self.name)
        meta = {"spec": {**spec.to_dict(), "field": field_spec,
                         "layout": {"name": spec.layout["name"], **layout.options(shapes)}},
                "names": names, "shapes": shapes, "dims": list(dims)}
        if sizes is not None:
            if knobs is None:  # no budget: every part at the field's own size
                knobs = [field_spec.get(spec.knob) if spec.knob else None] * len(sizes)
            meta["parts"] = {"sizes": sizes, "knobs": knobs}
        torch.manual_seed(ctx.seed)
        field = build(field_spec, dims, meta.get("parts"))
        self.partial = (field, encoded.stats, meta)
        state = FitState(field, layout, encoded, encoded.stats, names, shapes, model, ctx, store.code_bits,
                         checkpoint, checkpoint_every)
        return _Fit(state, spec.stages(), meta, budget, knobs, sizes, field_spec, layout)

    def _finish(self, fit: _Fit) -> Encoding:
        """The fitted field packed as stored, and what the record says about it."""
        spec, store = self.spec, self.spec.storage_spec()
        state, stages, info, field = fit.state, fit.stages, fit.info, fit.state.field
        model, layout, field_spec, knobs = state.model, fit.layout, fit.field_spec, fit.knobs
        budget, sizes, meta = fit.budget, fit.sizes, fit.meta
        packed = storage.pack(field.state_dict(), store.precision, store.entropy, store.bits)
        tensors = {FIELD_PREFIX + k: v for k, v in packed.items()}
        tensors["stats"] = state.stats
        field_bytes = payload_bytes({k: v for k, v in tensors.items() if k.startswith(FIELD_PREFIX)})
        size = payload_bytes(with_buffers(model, tensors))  # what compress() will count
        steps = [text for text in (stage.describe() for stage in stages) if text]
        chosen_size = field_spec.get(spec.knob) if knobs is None else knobs  # per part where partitioned
        info |= {"innr_parameters": sum(p.numel() for p in field.parameters()),
                 "storage": f"{describe(field, field_spec)} {store.describe()} + {layout.describe_stats()}"
                            + (f" ({', '.join(steps)})" if steps else ""),
                 # the share of the stored bytes that is the field itself (the rest: stats, buffers)
                 "field_share": field_bytes / size,
                 "precision": store.precision,
                 **({"budget": {"bytes": budget, spec.knob: chosen_size}} if budget else {}),
                 **({"parts": len(sizes)} if sizes is not None else {})}
        return Encoding(tensors, meta, info)

    @staticmethod
    def decode(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Sample the field at every query coordinate and undo the standardization."""
        spec = meta["spec"]
        with torch.random.fork_rng(devices=[]):  # building the field must not move the global RNG
            field = build(spec["field"], meta["dims"], meta.get("parts"))
        store = storage.StorageSpec(**spec["storage"])
        packed = {k.removeprefix(FIELD_PREFIX): v for k, v in tensors.items() if k.startswith(FIELD_PREFIX)}
        shapes = {k: v.shape for k, v in field.state_dict().items()}
        field.load_state_dict(storage.unpack(packed, store.precision, shapes, store.bits))
        return sample(field, tensors["stats"], meta)


def sample(field: nn.Module, stats: torch.Tensor, meta: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Weights decoded from a (possibly still training) field."""
    layout = build_layout(meta["spec"]["layout"])
    coords = layout.queries(meta["shapes"])
    device = next(field.parameters()).device
    evaluate = getattr(field, "evaluate", None)
    with torch.no_grad():
        if callable(evaluate):  # a field of parts: evaluated part by part
            outputs = evaluate(coords.to(device), SAMPLE_CHUNK).cpu()
        else:
            outputs = torch.cat([field(chunk.to(device)).cpu() for chunk in coords.split(SAMPLE_CHUNK)])
    return layout.decode(outputs, stats, meta["names"], meta["shapes"])


def build(field: Mapping[str, Any], dims: Sequence[int], parts: Mapping[str, Any] | None) -> nn.Module:
    """The field `field` describes, or with `parts` ({"sizes", "knobs"}) one per part, each at its
    own size knob, built in part order."""
    if parts is None:
        return build_field(field, dim_in=dims[0], dim_out=dims[1])
    knob = size_knob(str(field["name"]))
    fields = [build_field({**field, knob: value} if knob else field, dim_in=dims[0], dim_out=dims[1])
              for value in parts["knobs"]]
    return PartitionedField(fields, parts["sizes"], field, parts["knobs"])


@dataclass
class _Fit:
    """One INNR between `_prepare` and `_finish`: its state, stages, stored meta and chosen sizes."""

    state: FitState
    stages: list[Stage]
    meta: dict[str, Any]
    budget: int | None
    knobs: list[Any] | None
    sizes: list[int] | None
    field_spec: dict[str, Any]
    layout: Layout
    info: dict[str, Any] = dataclass_field(default_factory=dict)


@COMPRESSORS.register("innr")
class Innr(InnrCompressor):
    """INNR from parts: a preset and any layout, field, fit stages, storage and partition. With
    no size named (no ratio, bytes or field size), preset fast-scalable at ratio 0.13, a copy
    that follows the target; with one, preset fast (the published cells' default)."""

    def __init__(
        self,
        *,
        # None: fast-scalable at ratio 0.13 when nothing sets the size, else fast
        preset: str | None = None,
        # each part: {name: ..., options}; a layout or field of the preset's name is merged with
        # the preset's, another replaces it; `fit` (a list of stages) replaces the preset's
        layout: dict[str, Any] | None = None,
        field: dict[str, Any] | None = None,
        fit: list[dict[str, Any]] | None = None,
        storage: dict[str, Any] | None = None,
        # A size budget instead of the field's size option: the largest field whose stored bytes
        # (field, stats, buffers) fit `ratio` x the target's fp32 bytes, or `bytes`, per target.
        ratio: Ratio | None = None,
        bytes: PositiveInt | None = None,  # shadows the builtin: it is the suite key users write
        # {weights: n}: one field per part of at most n of the target's weights, each sized by its
        # share of the budget (fit cost ~N x n, not ~N^2); None: the preset's (one field, but for
        # fast-scalable)
        partition: dict[str, Any] | None = None,
    ) -> None:
        implicit = preset is None and _follows_the_target(field, ratio, bytes)
        if implicit:
            preset, ratio = SCALABLE_PRESET, DEFAULT_RATIO
        try:
            self.spec = resolve(preset_name=preset or DEFAULT_PRESET, layout=layout, field=field, fit=fit,
                                storage=storage, ratio=ratio, bytes=bytes, partition=partition)
        except ConfigError as error:
            if not implicit:
                raise
            raise ConfigError(f"{error} (innr with no size named takes preset {SCALABLE_PRESET} at ratio "
                              f"{DEFAULT_RATIO}; name a preset, e.g. preset: {DEFAULT_PRESET}, or a size)"
                              ) from None


def _follows_the_target(field: Mapping[str, Any] | None, ratio: float | None, bytes: int | None) -> bool:
    """Whether `innr` without a preset takes the scalable default: no budget, and a field (the
    default SIREN or one named) with a size option that the suite leaves unset."""
    if ratio is not None or bytes is not None:
        return False
    name = (field or {}).get("name", PRESETS[SCALABLE_PRESET]["spec"]["field"]["name"])
    knob = size_knob(name) if name in FIELDS else None
    return knob is not None and knob not in (field or {})


@COMPRESSORS.register("innr-siren")
class InnrSiren(InnrCompressor):
    """INNR: a SIREN from weight coordinates to values; recipes `fast`, `seed` (data-free weight
    fits), `distill` and `distill-quick` (then distilled on training images, 6,000 or 4,000 steps),
    `distill-noise` and `distill-impressions` (on synthetic ones: noise, or noise and class
    impressions)."""

    def __init__(
        self,
        *,
        recipe: str = "fast",  # a SIREN preset: fast, seed, distill, distill-quick, distill-noise, ...
        # Every option below left out (None) takes the recipe's value.
        width: PositiveInt | None = None,
        depth: PositiveInt | None = None,
        w0: PositiveFloat | None = None,
        w0_initial: PositiveFloat | None = None,
        epochs: PositiveInt | None = None,
        lr: PositiveFloat | None = None,
        block: PositiveInt | None = None,  # weights per query (rows layout)
        schedule: Schedule | None = None,
        warmup: Annotated[float, Field(gt=0, lt=1)] | None = None,  # one-cycle warm-up fraction
        solve_every: Annotated[int, Field(ge=0)] | None = None,  # least-squares output layer
        precision: storage.Precision | None = None,  # storage of the SIREN's weights
        bits: Annotated[int, Field(ge=2, le=8)] | None = None,  # code width of precision int8
        # huffman: integer codes Huffman-coded tensor by tensor where smaller; nnc: all codes in one
        # lossless MPEG NNC bitstream where smaller (the [nnc] extra) (precision int8)
        entropy: storage.Entropy | None = None,
        # A size budget instead of a width: the widest SIREN whose stored bytes (weights, stats,
        # buffers) fit `ratio` x the target's fp32 bytes, or `bytes`, chosen per target.
        ratio: Ratio | None = None,
        bytes: PositiveInt | None = None,  # shadows the builtin: it is the suite key users write
        # rows layout: standardize per tensor (fp32 stats) or per row/output channel (fp16 stats)
        normalize: Normalize | None = None,
        # data-free quantization-aware refit: epochs of weight MSE through the rounded field
        qat_epochs: Annotated[int, Field(ge=0)] | None = None,
        # distillation through the decoded net (NeRN-style): steps, inputs (data: training
        # images, the setting uses data; noise: synthetic images, data-free; impressions: half
        # noise, half class impressions made from the original, data-free), Adam lr with cosine
        # decay, KL temperature, batch size, weight of the weight-MSE term beside the KL, weight
        # of a cross-entropy with the training labels (data only), and whether the stored
        # mean/std are trained too
        distill_steps: Annotated[int, Field(ge=0)] | None = None,
        distill_inputs: Inputs | None = None,
        distill_lr: PositiveFloat | None = None,
        distill_temperature: PositiveFloat | None = None,
        distill_batch: PositiveInt | None = None,
        distill_weight_loss: Annotated[float, Field(ge=0)] | None = None,
        distill_label_loss: Annotated[float, Field(ge=0)] | None = None,
        # class impressions (distill_inputs: impressions): how many, and Adam steps that make them
        distill_pool: PositiveInt | None = None,
        distill_pool_steps: PositiveInt | None = None,
        learn_stats: bool | None = None,
    ) -> None:
        given = {k: v for k, v in locals().items()
                 if k not in ("self", "recipe", "ratio", "bytes", "__class__") and v is not None}
        if width is not None and (ratio is not None or bytes is not None):
            budget = "ratio" if ratio is not None else "bytes"
            raise ConfigError(f"{budget}: set only one of width, ratio and bytes (got width and {budget}); "
                              "a budget picks the width itself")
        self.spec = siren_spec(recipe, given, ratio=ratio, bytes=bytes)


def siren_spec(recipe: str, given: Mapping[str, Any], *, ratio: float | None, bytes: int | None) -> InnrSpec:
    """innr-siren's spec: recipe `recipe`'s flat settings with `given` over them, as parts."""
    entry = preset(recipe, "recipe")
    try:
        settings = {**flat.flatten(entry["spec"]), **given}
    except ValueError:
        raise ConfigError(f"recipe: {recipe!r} is not a SIREN recipe; use the `innr` compressor for "
                          "it") from None
    parts = flat.nest(settings, recipe)
    if ratio is not None or bytes is not None:
        del parts["field"]["width"]  # the budget's to choose
    stages = [stage["name"] for stage in parts["fit"]]
    return resolve(preset_name=recipe, **parts, ratio=ratio, bytes=bytes, name=flat.namer(stages))
