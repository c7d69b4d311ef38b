"""The standard codec: `nnc` (MPEG NNC through NNCodec) as a compressor, and as the entropy coder of
an INNR's field (`storage: {entropy: nnc}`). The library is the optional `[nnc]` extra: without
it every test here but the missing-extra ones skips, saying so (`.ci/run` installs it; the
shipped suites name `nnc`, so tests that load them need it too)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from innr_bench.compress import nnc_codec
from innr_bench.compress.innr import storage
from innr_bench.compress.nnc import BITSTREAM, Nnc
from innr_bench.compress.serialize import from_bytes, to_bytes
from innr_bench.config import load_suite
from innr_bench.conformance import check_compressor, context, tiny_target
from innr_bench.errors import ConfigError, CorruptArtifactError, MissingExtraError

try:
    CODEC: str | None = importlib.metadata.version("nncodec")
except importlib.metadata.PackageNotFoundError:
    CODEC = None
needs_codec = pytest.mark.skipif(CODEC is None, reason=f"nncodec is not installed: {nnc_codec.INSTALL}")

SUITE = {
    "name": "t", "seeds": [0], "datasets": [{"name": "synthetic"}],
    "targets": [{"name": "seed-cnn", "params": {"c": 2}, "train": {"epochs": 1}}],
    "compressors": [{"name": "nnc"}], "attacks": [],
}


def _suite(tmp_path: Path, params: dict) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({**SUITE, "compressors": [{"name": "nnc", "params": params}]}))
    return path


def _without_codec(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.metadata.version

    def version(name: str) -> str:
        if name == "nncodec":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)


def test_a_suite_naming_nnc_without_the_extra_is_one_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _without_codec(monkeypatch)
    with pytest.raises(MissingExtraError, match=r"innr-bench\[nnc\]|\.\[nnc\]") as raised:
        load_suite(_suite(tmp_path, {"qp": -32}))
    assert "--no-deps nncodec==" in str(raised.value) and "\n" not in str(raised.value)
    innr = {**SUITE, "compressors": [{"name": "innr", "params": {"storage": {"precision": "int8",
                                                                             "entropy": "nnc"}}}]}
    (tmp_path / "innr.yaml").write_text(yaml.safe_dump(innr))
    with pytest.raises(MissingExtraError, match="nncodec"):
        load_suite(tmp_path / "innr.yaml")


@needs_codec
@pytest.mark.parametrize(("params", "message"), [
    ({"qp": -500}, r"compressors\[0\]\.params.*qp: -500 is out of range for qp_density 2: the bitstream "
                   r"holds -128\.\.127"),
    ({"qp": 128}, r"qp: 128 is out of range for qp_density 2"),
    ({"qp_density": 9}, r"qp_density: 9 is out of range; NNC allows 0\.\.7"),
    ({"mode": "huffman"}, r"compressors\[0\]\.params\.mode: 'huffman' is invalid \(Input should be "
                          r"'uniform' or 'codebook'\)"),
    ({"nonweight_qp": 300}, r"nonweight_qp: 300 is out of range"),
    ({"mode": "codebook", "dq": True}, r"dq: true cannot be used with mode codebook"),
    ({"finetune_epochs": 2}, r"finetune_epochs: 2 retrains a pruned net; set sparsity"),
])
def test_bad_options_are_one_clear_error_and_exit_2(tmp_path: Path, params: dict, message: str) -> None:
    path = _suite(tmp_path, params)
    with pytest.raises(ConfigError, match=message) as raised:
        load_suite(path)
    assert "\n" not in str(raised.value) and "suite.yaml" in str(raised.value)
    result = subprocess.run([sys.executable, "-m", "innr_bench.cli", "run", str(path), "--out",
                             str(tmp_path / "out"), "--no-progress"], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.json"))


@needs_codec
def test_weights_a_codec_cannot_code_at_that_qp_are_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    model = torch.nn.Linear(16, 16)
    with torch.no_grad():
        model.weight[0, 0] = 3.0  # 3 / 2^-32 overflows the codec's integer codes
        model.bias[0] = 3.0
    with pytest.raises(ConfigError, match=r"^qp: -128 is too fine for weight .*raise qp$"):
        Nnc(qp=-128).compress(model, context())
    with pytest.raises(ConfigError, match=r"^nonweight_qp: -128 is too fine for bias .*raise nonweight_qp$"):
        Nnc(nonweight_qp=-128).compress(model, context())
    assert Nnc(qp=-112).compress(model, context()).size_bytes > 0  # 3 / 2^-28 fits

    def clipping(call: object, *args: object, **kwargs: object) -> tuple[bytes, str]:
        return bytearray(b"x"), ("INFO: QP for weight has been clipped from -100 to -91 to avoid int32_t "
                                 "overflow!")

    # where the codec would coarsen a tensor's qp itself, the asked qp would not be what ran
    monkeypatch.setattr(nnc_codec, "_quietly", clipping)
    with pytest.raises(ConfigError, match=r"qp: -100 is too fine for weight: the codec would code it at "
                                          r"qp -91"):
        Nnc(qp=-100).compress(model, context())


def test_nnc_is_listed_among_the_compressors(capsys: pytest.CaptureFixture[str]) -> None:
    from innr_bench.cli import main

    assert main(["list", "compressors"]) == 0
    assert "\nnnc " in capsys.readouterr().out


@needs_codec
def test_a_net_of_exact_non_weights_only_stores_no_bitstream() -> None:
    model = torch.nn.Sequential(torch.nn.BatchNorm1d(4))
    compressed = Nnc(nonweight_qp="exact").compress(model, context())
    assert compressed.tensors[BITSTREAM].numel() == 0
    rebuilt = compressed.reconstruct(model)
    assert all(torch.equal(a, b) for a, b in zip(rebuilt.parameters(), model.parameters()))


@needs_codec
def test_the_key_pins_the_codec_version(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = Nnc(qp=-24).resolved_spec()
    assert spec["nncodec"] == CODEC and spec["qp"] == -24 and spec["dq"] is True
    monkeypatch.setattr(nnc_codec, "version", lambda: "9.9.9")
    assert Nnc(qp=-24).resolved_spec() != spec


@needs_codec
def test_a_stored_blob_decodes_in_a_fresh_process_from_the_blob_and_the_builder_alone(tmp_path: Path) -> None:
    compressed = check_compressor("nnc", {"qp": -24})
    blob = tmp_path / "copy.safetensors"
    blob.write_bytes(to_bytes(compressed))
    out = tmp_path / "weights.safetensors"
    script = (
        "import sys; from safetensors.torch import save_file\n"
        "from innr_bench.compress.base import Compressed\n"
        "from innr_bench.compress.serialize import from_bytes\n"
        "from innr_bench.conformance import tiny_target\n"
        "method, tensors, meta = from_bytes(open(sys.argv[1], 'rb').read())\n"
        "copy = Compressed(method, tensors, meta, 0).reconstruct(tiny_target())\n"
        "save_file({k: v.contiguous() for k, v in copy.state_dict().items()}, sys.argv[2])\n")
    subprocess.run([sys.executable, "-c", script, str(blob), str(out)], check=True)
    from safetensors.torch import load_file

    fresh = load_file(out)
    here = compressed.reconstruct(tiny_target()).state_dict()
    assert fresh.keys() == here.keys()
    assert all(torch.equal(fresh[k], here[k]) for k in here)
    assert compressed.size_bytes == compressed.tensors[BITSTREAM].numel() + sum(
        b.numel() * b.element_size() for b in tiny_target().buffers())


@needs_codec
def test_a_coarser_qp_stores_fewer_bytes_and_uniform_error_is_half_a_step() -> None:
    model = tiny_target()
    sizes = []
    for qp in (-40, -32, -24, -16):
        compressed = Nnc(qp=qp, dq=False).compress(model, context())
        sizes.append(compressed.size_bytes)
        step = 2 ** nnc_codec.step_exponent(qp, 2)
        rebuilt = dict(compressed.reconstruct(model).named_parameters())
        for name, weight in model.named_parameters():
            if weight.dim() >= 2:
                error = float((rebuilt[name] - weight).detach().abs().max())
                assert error <= step / 2 * (1 + 1e-4), (qp, name, error, step)
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > sizes[-1]


@needs_codec
def test_a_qp_density_alone_keeps_the_default_steps_and_the_bytes_follow_the_step() -> None:
    model = tiny_target()
    default, finer_density = Nnc(), Nnc(qp_density=4)
    assert (default.qp, default.nonweight_qp) == (-32, -75)
    assert (finer_density.qp, finer_density.nonweight_qp) == (-128, -300)
    same_step = [Nnc(qp=-24 * 2**d // 4, qp_density=d, dq=False).compress(model, context()) for d in (2, 3)]
    first, second = (dict(c.reconstruct(model).named_parameters()) for c in same_step)
    assert all(torch.equal(first[k], second[k]) for k in first)  # one step, one quantization


@needs_codec
def test_codebook_mode_and_a_numeric_nonweight_qp_decode_within_half_a_step() -> None:
    model = tiny_target()
    # uniform: half a step; codebook: its values are the step's multiples, coded with the codebook
    cases = ((Nnc(qp=-24, nonweight_qp=-40, dq=False), 0.5), (Nnc(mode="codebook", qp=-24), 1.0))
    for compressor, bound in cases:
        assert compressor.dq is False
        compressed = compressor.compress(model, context())
        rebuilt = dict(compressed.reconstruct(model).named_parameters())
        for name, weight in model.named_parameters():
            qp = compressor.qp if weight.dim() >= 2 else compressor.nonweight_qp
            step = 2 ** nnc_codec.step_exponent(qp, 2)
            error = float((rebuilt[name] - weight).detach().abs().max())
            assert rebuilt[name].dtype == torch.float32 and error <= step * bound * (1 + 1e-4), (name, error)


@needs_codec
def test_a_scalar_parameter_round_trips() -> None:
    class Scaled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale, self.linear = torch.nn.Parameter(torch.tensor(0.5)), torch.nn.Linear(3, 3)

    model = Scaled()
    rebuilt = Nnc().compress(model, context()).reconstruct(model)
    assert rebuilt.scale.shape == () and abs(float(rebuilt.scale) - 0.5) < 1e-5


@needs_codec
def test_non_weights_kept_exact_decode_bit_for_bit() -> None:
    model = tiny_target()
    compressed = Nnc(nonweight_qp="exact").compress(model, context())
    rebuilt = dict(compressed.reconstruct(model).named_parameters())
    for name, weight in model.named_parameters():
        if weight.dim() < 2:
            assert torch.equal(rebuilt[name], weight.detach()), name
    assert compressed.meta["exact"] == [n for n, w in model.named_parameters() if w.dim() < 2]


@needs_codec
def test_prune_then_code_zeroes_the_pruned_weights_and_codes_them_for_less() -> None:
    model = tiny_target()
    dense = Nnc().compress(model, context())
    # uniform quantization keeps every zero; dependent quantization's trellis may code a few of
    # the pruned weights as +-1 step where that is cheaper
    pruned = Nnc(sparsity=0.8, dq=False).compress(model, context())
    assert pruned.size_bytes < dense.size_bytes and pruned.info["sparsity"] > 0.75
    rebuilt = pruned.reconstruct(model)
    kernels = torch.cat([p.detach().reshape(-1) for p in rebuilt.parameters() if p.dim() >= 2])
    assert float((kernels == 0).float().mean()) >= 0.8
    retrained = Nnc(sparsity=0.8, finetune_epochs=1)
    assert not retrained.data_free and Nnc(sparsity=0.8).data_free
    assert retrained.compress(model, context()).info["finetune_steps"] > 0


@needs_codec
def test_a_corrupt_bitstream_is_a_corrupt_artifact_error() -> None:
    compressed = Nnc().compress(tiny_target(), context())
    _, tensors, meta = from_bytes(to_bytes(compressed))
    tensors[BITSTREAM] = tensors[BITSTREAM][: len(tensors[BITSTREAM]) // 3]
    with pytest.raises(CorruptArtifactError, match="NNC bitstream"):
        Nnc.decode(tensors, meta)


@needs_codec
def test_field_codes_through_nnc_decode_to_the_same_weights_as_fixed_width() -> None:
    torch.manual_seed(0)
    # Laplacian-like weights (peaked codes: NNC wins) and uniform ones (NNC may lose: fixed width)
    peaked = {"a": torch.distributions.Laplace(0.0, 0.02).sample((64, 64)), "b": torch.randn(64) * 0.01}
    flat = {"a": torch.rand(64, 64) * 2 - 1}
    for state in (peaked, flat):
        fixed = storage.pack(state, "int8", "none")
        coded = storage.pack(state, "int8", "nnc")
        shapes = {k: v.shape for k, v in state.items()}
        expected = storage.unpack(fixed, "int8", shapes)
        got = storage.unpack(coded, "int8", shapes)
        assert all(torch.equal(expected[k], got[k]) for k in state)
        fixed_bytes = sum(t.numel() * t.element_size() for t in fixed.values())
        assert sum(t.numel() * t.element_size() for t in coded.values()) <= fixed_bytes
    assert storage.NNC_KEY in storage.pack(peaked, "int8", "nnc")


@needs_codec
def test_an_innr_with_an_nnc_coded_field_passes_conformance_and_pins_the_codec() -> None:
    params = {"fit": [{"name": "weights", "epochs": 20}], "ratio": 0.3,
              "storage": {"precision": "int8", "entropy": "nnc"}}
    compressed = check_compressor("innr", params)
    assert "NNC" in compressed.info["storage"]
    from innr_bench.compress.innr.compressor import Innr

    assert Innr(**params).resolved_spec()["nncodec"] == CODEC
    assert "nncodec" not in Innr(**{**params, "storage": {"precision": "int8"}}).resolved_spec()


@needs_codec
def test_a_refusal_met_while_computing_names_the_suite_entry_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    from innr_bench.cli import main

    def refuse(*args: object, **kwargs: object) -> tuple[bytes, str]:
        raise ConfigError("qp: -128 is too fine for these weights at qp_density 2: the integer codes "
                          "would overflow; raise qp")

    monkeypatch.setattr(nnc_codec, "encode", refuse)
    path = _suite(tmp_path, {"qp": -128})
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--no-progress", "--device", "cpu"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"{path}: compressor nnc[qp=-128] on seed-cnn[c=2] seed 0: qp: -128 is too fine" in error
