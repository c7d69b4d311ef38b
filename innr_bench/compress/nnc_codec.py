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
import ctypes
import importlib.metadata
import io
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping
from types import ModuleType
from typing import Any

import numpy as np

from innr_bench.errors import ConfigError, CorruptArtifactError, MissingExtraError

INSTALL = 'pip install -e ".[nnc]" && pip install --no-deps nncodec==2.1.3'
MAX_QP_DENSITY = 7  # the library asserts qp_density < 8 (a 3-bit syntax element)
# The bitstream holds a tensor's qp as a signed field of 6 + qp_density bits.
QP_FIELD_BITS = 6
# Codes past this magnitude overflow the codec's int32 arithmetic (it would then coarsen the qp
# itself, or fail): refused before coding, naming the option to raise.
MAX_CODE = 2**30
CLIPPED = re.compile(r"QP for (\S+) has been clipped from (-?\d+) to (-?\d+)")


def version() -> str:
    """The installed nncodec's version; MissingExtraError naming the install when absent."""
    try:
        return importlib.metadata.version("nncodec")
    except importlib.metadata.PackageNotFoundError:
        raise MissingExtraError(f"the NNC codec needs nncodec: {INSTALL}") from None


def require_version(expected: str) -> None:
    """ConfigError unless the installed nncodec is `expected` (what a cell's key was made with):
    another version may code the same weights into other bytes."""
    found = version()
    if found != expected:
        raise ConfigError(f"this machine has nncodec {found}, the cell's key names {expected}; install "
                          f"nncodec=={expected} here (or rerun the suite where it was parsed)")


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


def qp_range(qp_density: int) -> tuple[int, int]:
    """The qp values the bitstream can hold at `qp_density` (a signed 6 + qp_density bit field)."""
    half = 2 ** (QP_FIELD_BITS - 1 + qp_density)
    return -half, half - 1


def check_qp(qp: int, qp_density: int, field: str = "qp") -> None:
    """One clear error for a qp or qp_density the codec cannot use."""
    if not 0 <= qp_density <= MAX_QP_DENSITY:
        raise ConfigError(f"qp_density: {qp_density} is out of range; NNC allows 0..{MAX_QP_DENSITY} "
                          "(the step is 2^(qp / 2^qp_density); 2 is the codec's default)")
    low, high = qp_range(qp_density)
    if not low <= qp <= high:
        raise ConfigError(f"{field}: {qp} is out of range for qp_density {qp_density}: the bitstream holds "
                          f"{low}..{high} (a {QP_FIELD_BITS + qp_density}-bit field; the step is "
                          f"2^({field} / 2^qp_density); weights usually code well at -48..-16 with "
                          "qp_density 2)")


def check_codes(arrays: Mapping[str, np.ndarray], qps: Mapping[str, int], options: Mapping[str, str],
                qp_density: int) -> None:
    """One clear error where a qp is so fine that a tensor's integer codes would overflow."""
    for name, array in arrays.items():
        if array.dtype != np.float32 or not array.size:
            continue
        largest = float(np.abs(array).max())
        if largest / 2 ** step_exponent(qps[name], qp_density) > MAX_CODE:
            raise ConfigError(f"{options[name]}: {qps[name]} is too fine for {name} (largest |value| "
                              f"{largest:.3g}): its integer codes would overflow; "
                              f"raise {options[name]}")


@contextlib.contextmanager
def _captured_fd_stdout() -> Iterator[io.StringIO]:
    """Everything written to file descriptor 1 inside the block (the library's C++ prints, which
    Python's redirect does not see), as text in the yielded buffer once the block ends."""
    text = io.StringIO()
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield text
        finally:
            ctypes.CDLL(None).fflush(None)  # C stdio buffers, before fd 1 is given back
            os.dup2(saved, 1)
            os.close(saved)
            sink.seek(0)
            text.write(sink.read().decode(errors="replace"))


def _quietly(call: Any, *args: Any, **kwargs: Any) -> tuple[Any, str]:
    """`call(...)` with the library's prints captured (Python's and C++'s); its exits and
    asserts as RuntimeError."""
    printed = io.StringIO()
    try:
        with _captured_fd_stdout() as native, contextlib.redirect_stdout(printed):
            result = call(*args, **kwargs)
    except (SystemExit, AssertionError) as error:  # the library's way of refusing input
        raise RuntimeError(str(error) or type(error).__name__) from None
    return result, printed.getvalue() + native.getvalue()


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
    per_tensor = dict(qp_per_tensor or {})
    check_codes(params, {n: per_tensor.get(n, qp) for n in params},
                {n: "nonweight_qp" if n in per_tensor else "qp" for n in params}, qp_density)
    try:
        bitstream, printed = _quietly(
            nnc.compress, params, bitstream_path=None, return_bitstream=True, verbose=False,
            qp=qp, qp_density=qp_density, use_dq=dependent, codebook_mode=2 if codebook else 0,
            qp_per_tensor=dict(qp_per_tensor) if qp_per_tensor else None)
    except RuntimeError as error:
        if "overflow" in str(error):
            raise ConfigError(f"qp: {qp} (or nonweight_qp) is too fine for these weights at qp_density "
                              f"{qp_density}: the integer codes would overflow; raise it") from None
        raise ConfigError(f"nncodec {version()} refused the weights: {str(error).strip()}") from None
    clipped = CLIPPED.search(printed)
    if clipped:  # the codec coarsened a tensor's qp itself: the asked qp would not be what ran
        name, asked, used = clipped.groups()
        option = "nonweight_qp" if name in per_tensor else "qp"
        raise ConfigError(f"{option}: {asked} is too fine for {name}: the codec would code it at qp {used} "
                          f"to keep its integer codes in range; raise {option} to {used} or more")
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
