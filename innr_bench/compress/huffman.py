"""Huffman coding of byte symbols with the standard library.

Deflate with `Z_HUFFMAN_ONLY` switches off LZ77 string matching, so what remains is exactly a
Huffman code of the byte stream (dynamic Huffman blocks whose code tables are stored in the
stream, code lengths limited to 15 bits). Raw deflate (`wbits=-15`) drops zlib's 6-byte header
and checksum: the safetensors container already carries every tensor's length."""

from __future__ import annotations

import zlib

import torch

RAW_DEFLATE = -15


def huffman_encode(symbols: torch.Tensor) -> torch.Tensor:
    """Byte symbols (0..255, any integer dtype) -> Huffman-coded stream as a uint8 tensor."""
    flat = symbols.reshape(-1).to(torch.int64)
    if flat.numel() and (int(flat.min()) < 0 or int(flat.max()) > 255):
        raise ValueError("Huffman symbols must be bytes (0..255)")
    coder = zlib.compressobj(9, zlib.DEFLATED, RAW_DEFLATE, 9, zlib.Z_HUFFMAN_ONLY)
    stream = coder.compress(flat.to(torch.uint8).numpy().tobytes()) + coder.flush()
    return _as_tensor(stream)


def huffman_decode(stream: torch.Tensor) -> torch.Tensor:
    """The byte symbols back from `huffman_encode` (int64)."""
    return _as_tensor(zlib.decompress(stream.numpy().tobytes(), RAW_DEFLATE)).to(torch.int64)


def _as_tensor(data: bytes) -> torch.Tensor:
    """bytes -> uint8 tensor (torch.frombuffer refuses an empty buffer)."""
    if not data:
        return torch.zeros(0, dtype=torch.uint8)
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


def relative_gaps(positions: torch.Tensor) -> torch.Tensor:
    """Distance of each sorted flat position from the previous one (the first from -1)."""
    return torch.diff(positions.to(torch.int64), prepend=torch.tensor([-1]))


def gaps_encode(positions: torch.Tensor, limit: int = 255) -> torch.Tensor:
    """Sorted flat positions -> relative-index symbols (Deep Compression's relative indexing).

    Each kept entry stores its distance from the previous one (the first from -1). A distance
    of `limit` or more is written as `limit` ("skip `limit` entries, nothing kept") followed by
    the rest (which may then be 0), like the paper's filler zeros but without a stored value."""
    symbols = []
    gaps = relative_gaps(positions)
    for gap in gaps.tolist():
        while gap >= limit:
            symbols.append(limit)
            gap -= limit
        symbols.append(gap)
    return torch.tensor(symbols, dtype=torch.int64)


def gaps_decode(symbols: torch.Tensor, limit: int = 255) -> torch.Tensor:
    """Flat positions back from `gaps_encode`' symbols."""
    positions, current, pending = [], -1, 0
    for symbol in symbols.tolist():
        pending += symbol
        if symbol != limit:
            current += pending
            positions.append(current)
            pending = 0
    return torch.tensor(positions, dtype=torch.int64)
