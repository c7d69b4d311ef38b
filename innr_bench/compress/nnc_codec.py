"""The boundary to NNCodec, Fraunhofer HHI's reference implementation of MPEG Neural Network
Coding (NNC, ISO/IEC 15938-17): arrays in, one bitstream out, and back.

Everything the library does that a caller must not see stays here: it is imported lazily (its
import pulls OpenCV, scikit-learn and pandas), it prints to stdout, and it ends errors in
`SystemExit`, `AssertionError` or a C++ `RuntimeError`; each becomes one of our errors. Only
`nncodec.nnc.compress` / `decompress` on dicts of arrays are used: the `nn.Module` path reseeds
the global RNG and sets cuDNN flags, and both paths write a file unless told not to.

The installed package declares `numpy<2`, which the code we call does not need; it installs
with `pip install --no-deps nncodec==2.1.3` beside the `[nnc]` extra (its real imports).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import numpy as np

from innr_bench.errors import ConfigError, CorruptArtifactError, MissingExtraError

INSTALL = 'pip install -e ".[nnc]" && pip install --no-deps nncodec==2.1.3'
TESTED_VERSION = "2.1.3"  # what the keys pin and the tests ran on
MAX_QP_DENSITY = 7  # the library asserts qp_density < 8 (a 3-bit syntax element)
# A step 2^(qp / 2^qp_density) outside 2^-32..2^32 overflows the integer codes of any weight
# (finer) or codes everything as zero (coarser): the range a suite may ask for.
MAX_STEP_EXPONENT = 32


def version() -> str:
    """The installed nncodec's version; MissingExtraError naming the install when absent."""
    try:
        return importlib.metadata.version("nncodec")
    except importlib.metadata.PackageNotFoundError:
        raise MissingExtraError(f"the NNC codec needs nncodec: {INSTALL}") from None


def _library() -> ModuleType:
    version()
    try:
        from nncodec import nnc
    except ImportError as error:  # installed without one of its imports
        raise MissingExtraError(f"nncodec is installed but cannot be imported ({error}); {INSTALL}") from None
    return nnc


def step_exponent(qp: int, qp_density: int) -> float:
    """log2 of NNC's quantization step for `qp` at `qp_density`: step = 2^(qp / 2^qp_density)."""
    return qp / 2**qp_density


def check_qp(qp: int, qp_density: int, field: str = "qp") -> None:
    """One clear error for a qp or qp_density the codec cannot use."""
    if not 0 <= qp_density <= MAX_QP_DENSITY:
        raise ConfigError(f"qp_density: {qp_density} is out of range; NNC allows 0..{MAX_QP_DENSITY} "
                          "(the step is 2^(qp / 2^qp_density); 2 is the codec's default)")
    limit = MAX_STEP_EXPONENT * 2**qp_density
    if abs(qp) > limit:
        raise ConfigError(f"{field}: {qp} is out of range for qp_density {qp_density}: the step "
                          f"2^({field} / 2^qp_density) must lie in "
                          f"2^-{MAX_STEP_EXPONENT}..2^{MAX_STEP_EXPONENT}, "
                          f"so {field} in {-limit}..{limit} (weights usually code well at -48..-16 with "
                          "qp_density 2)")


def _quietly(call: Any, *args: Any, **kwargs: Any) -> tuple[Any, str]:
    """`call(...)` with the library's prints captured; its exits and asserts as RuntimeError."""
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            return call(*args, **kwargs), printed.getvalue()
    except (SystemExit, AssertionError) as error:  # the library's way of refusing input
        raise RuntimeError(str(error) or type(error).__name__) from None


def encode(
    arrays: Mapping[str, np.ndarray], *, qp: int = -32, qp_density: int = 2, dependent: bool = True,
    codebook: bool = False, qp_per_tensor: Mapping[str, int] | None = None,
) -> tuple[bytes, str]:
    """One NNC bitstream of `arrays` (float32: quantized at `qp`, or int32: coded losslessly), and
    what the library printed. Arrays of 2 or more dimensions are NNC's weights (qp); 1-D ones
    take their entry in `qp_per_tensor`."""
    nnc = _library()
    for name, array in arrays.items():
        if array.dtype not in (np.float32, np.int32) or array.ndim == 0:
            raise TypeError(f"{name}: NNC codes float32 or int32 arrays of at least one dimension, "
                            f"got {array.dtype} of shape {array.shape}")
    params = {name: np.ascontiguousarray(array) for name, array in arrays.items()}
    try:
        bitstream, printed = _quietly(
            nnc.compress, params, bitstream_path=None, return_bitstream=True, verbose=False,
            qp=qp, qp_density=qp_density, use_dq=dependent, codebook_mode=2 if codebook else 0,
            qp_per_tensor=dict(qp_per_tensor) if qp_per_tensor else None)
    except RuntimeError as error:
        if "overflow" in str(error):
            raise ConfigError(f"qp: {qp} is too fine for these weights at qp_density {qp_density}: "
                              "the integer codes would overflow; raise qp") from None
        raise ConfigError(f"nncodec {version()} refused the weights: {str(error).strip()}") from None
    return bytes(bitstream), printed


def decode(bitstream: bytes) -> dict[str, np.ndarray]:
    """The arrays of one NNC bitstream (float32 where quantized, int32 where coded losslessly)."""
    nnc = _library()
    try:
        arrays, _ = _quietly(nnc.decompress, bytearray(bitstream))
    except Exception as error:  # a truncated or foreign stream fails anywhere in the parser
        reason = str(error).strip() or type(error).__name__
        raise CorruptArtifactError(f"the NNC bitstream ({len(bitstream):,} bytes) cannot be decoded by "
                                   f"nncodec {version()}: {reason}") from None
    return dict(arrays)
