# Part of the bbcu_export package (tools/bbcu_export); tools/safetensors_io.py is this module under
# its old name.  Needs only numpy.
"""Minimal, dependency-free reader and writer for the .safetensors format.

Layout: 8-byte little-endian unsigned header length N, N bytes of UTF-8 JSON
``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
{str: str}}``, then the data buffer.  Offsets are relative to the start of the
data buffer, row-major, little-endian.

The writer is deterministic: tensors are stored in the order given, contiguous
from offset 0; the header is compact JSON with "__metadata__" first and the
tensors in the same order, padded with spaces so that the data starts at a
multiple of 8 bytes (as the reference Rust implementation does).
"""

import collections
import json
import struct

import numpy as np

DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
_NAMES = {v: k for k, v in DTYPES.items()}


class SafetensorsError(ValueError):
    pass


def _bf16_to_f32(raw):
    u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
    return u.view("<f4")


class BF16:
    """A bfloat16 tensor to write with serialize()/save() (numpy has no bfloat16):
    ``bits`` are the raw 16-bit patterns, the upper halves of the float32 values."""

    def __init__(self, bits):
        bits = np.asarray(bits)
        if bits.dtype != np.uint16:
            raise SafetensorsError("BF16 bits must be uint16, got %s" % bits.dtype)
        self.bits = bits

    @classmethod
    def from_float32(cls, arr):
        """Round float32 values to the nearest bfloat16 (ties to even), as PyTorch's
        ``tensor.to(torch.bfloat16)`` does. Finite values too large for bfloat16
        become infinite; NaN stays NaN."""
        a = np.ascontiguousarray(arr, dtype="<f4")
        u = a.view("<u4").astype(np.uint64)
        rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
        nan = np.isnan(a)
        if nan.any():
            rounded[nan] = ((u[nan] >> 16) | 0x40).astype(np.uint16)  # keep NaN a (quiet) NaN
        return cls(rounded.reshape(a.shape))

    @property
    def shape(self):
        return self.bits.shape

    def to_float32(self):
        return (self.bits.astype("<u4") << 16).view("<f4")


def parse(data):
    """Parse bytes -> (OrderedDict name -> numpy array, metadata dict or None).

    BF16 tensors are returned widened to float32.  Validates that offsets are
    in range, consistent with dtype and shape, and do not overlap.
    """
    if len(data) < 8:
        raise SafetensorsError("file too short for a safetensors header")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise SafetensorsError("header length %d exceeds file size %d" % (n, len(data)))
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"), object_pairs_hook=collections.OrderedDict)
    except (UnicodeDecodeError, ValueError) as e:
        raise SafetensorsError("header is not valid UTF-8 JSON: %s" % e)
    if not isinstance(header, dict):
        raise SafetensorsError("header is not a JSON object")
    buf = data[8 + n:]
    meta = header.pop("__metadata__", None)
    if meta is not None and not (isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())):
        raise SafetensorsError("__metadata__ must map strings to strings")
    out = collections.OrderedDict()
    spans = []
    for name, info in header.items():
        try:
            dtype, shape, (b, e) = info["dtype"], list(info["shape"]), info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise SafetensorsError("tensor %r: malformed header entry %r" % (name, info))
        count = 1
        for d in shape:
            if not isinstance(d, int) or d < 0:
                raise SafetensorsError("tensor %r: bad shape %r" % (name, shape))
            count *= d
        if dtype == "BF16":
            itemsize = 2
        elif dtype in DTYPES:
            itemsize = DTYPES[dtype].itemsize
        else:
            raise SafetensorsError("tensor %r: unsupported dtype %s" % (name, dtype))
        if not (isinstance(b, int) and isinstance(e, int) and 0 <= b <= e <= len(buf)):
            raise SafetensorsError("tensor %r: data_offsets %r out of range (data is %d bytes)"
                                   % (name, [b, e], len(buf)))
        if e - b != count * itemsize:
            raise SafetensorsError("tensor %r: %d bytes for %s %r (expected %d)"
                                   % (name, e - b, dtype, shape, count * itemsize))
        raw = buf[b:e]
        if dtype == "BF16":
            arr = _bf16_to_f32(raw).reshape(shape)
        else:
            arr = np.frombuffer(raw, dtype=DTYPES[dtype]).reshape(shape)
        out[name] = arr
        if e > b:
            spans.append((b, e, name))
    spans.sort()
    for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise SafetensorsError("tensors %r and %r overlap" % (n0, n1))
    return out, (dict(meta) if meta is not None else None)


def load(path):
    with open(path, "rb") as f:
        return parse(f.read())


def header(data):
    """The header of a safetensors file's bytes, unvalidated: OrderedDict name ->
    {"dtype", "shape", "data_offsets"}, without "__metadata__" (parse() widens BF16,
    so this is where a tensor's stored dtype can be read)."""
    if len(data) < 8:
        raise SafetensorsError("file too short for a safetensors header")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise SafetensorsError("header length %d exceeds file size %d" % (n, len(data)))
    h = json.loads(data[8:8 + n].decode("utf-8"), object_pairs_hook=collections.OrderedDict)
    h.pop("__metadata__", None)
    return h


def load_dtypes(path):
    """OrderedDict tensor name -> stored dtype string ("F32", "F16", "BF16", ...)."""
    with open(path, "rb") as f:
        return collections.OrderedDict((k, v["dtype"]) for k, v in header(f.read()).items())


def serialize(tensors, metadata=None):
    """tensors: ordered iterable of (name, numpy array or BF16) -> bytes."""
    items = list(tensors.items()) if isinstance(tensors, dict) else list(tensors)
    header = collections.OrderedDict()
    if metadata is not None:
        header["__metadata__"] = collections.OrderedDict((str(k), str(v)) for k, v in metadata.items())
    chunks = []
    offset = 0
    for name, arr in items:
        if name == "__metadata__" or name in header:
            raise SafetensorsError("duplicate or reserved tensor name %r" % name)
        if isinstance(arr, BF16):
            dname, shape = "BF16", arr.shape
            raw = np.ascontiguousarray(arr.bits, dtype="<u2").tobytes(order="C")
        else:
            arr = np.asarray(arr)
            dt = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
            if dt not in _NAMES:
                raise SafetensorsError("tensor %r: unsupported dtype %s" % (name, arr.dtype))
            dname, shape = _NAMES[dt], arr.shape
            raw = np.ascontiguousarray(arr, dtype=dt).tobytes(order="C")
        header[name] = collections.OrderedDict([
            ("dtype", dname), ("shape", [int(d) for d in shape]),
            ("data_offsets", [offset, offset + len(raw)])])
        chunks.append(raw)
        offset += len(raw)
    hjson = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    hjson += b" " * ((-(8 + len(hjson))) % 8)
    return struct.pack("<Q", len(hjson)) + hjson + b"".join(chunks)


def save(path, tensors, metadata=None):
    data = serialize(tensors, metadata)
    with open(path, "wb") as f:
        f.write(data)
    return data
