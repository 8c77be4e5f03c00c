"""The judge file: linear heads over hashed features, stored and read with the standard library alone.

Layout: ``MAGIC``, a 4-byte little-endian length, that many bytes of JSON metadata,
then the zlib-compressed float32 weights of every head (bucket-major: the
``len(classes)`` weights of bucket 0, then bucket 1, ...). The metadata carries the
feature settings, each head's classes and biases, the abstain thresholds, what it
was trained on, and the sha256 of the weights, checked on load.
"""

from __future__ import annotations

import hashlib
import json
import math
import struct
import sys
import zlib
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reviewer.judge.features import Features

MAGIC = b"REVIEWER-JUDGE\x00\x01"
FORMAT_VERSION = 1


class JudgeFileError(ValueError):
    """The file is not a judge this version can read, or it is damaged."""


@dataclass
class Head:
    """One decision (the verdict, or one criterion): a multinomial logistic model over the buckets."""

    name: str
    classes: tuple[str, ...]
    bias: tuple[float, ...]
    weights: array  # type: ignore[type-arg]  # float32, bucket-major

    def scores(self, features: Features) -> list[float]:
        n = len(self.classes)
        totals = list(self.bias)
        w = self.weights
        for bucket, value in features.items():
            base = bucket * n
            for k in range(n):
                totals[k] += w[base + k] * value
        return totals

    def probabilities(self, features: Features) -> dict[str, float]:
        scores = self.scores(features)
        top = max(scores)
        exps = [math.exp(s - top) for s in scores]
        total = sum(exps)
        return {c: e / total for c, e in zip(self.classes, exps, strict=True)}


@dataclass
class JudgeFile:
    """Everything in a judge file: metadata and heads by name."""

    bits: int
    heads: dict[str, Head]
    meta: dict[str, Any] = field(default_factory=dict)

    def dump(self, path: Path) -> None:
        blob = b"".join(_le_bytes(head.weights) for head in self.heads.values())
        meta = {
            **self.meta,
            "format": FORMAT_VERSION,
            "bits": self.bits,
            "heads": [{"name": h.name, "classes": list(h.classes), "bias": list(h.bias)} for h in self.heads.values()],
            "weights_sha256": hashlib.sha256(blob).hexdigest(),
        }
        header = json.dumps(meta, sort_keys=True).encode()
        path.write_bytes(MAGIC + struct.pack("<I", len(header)) + header + zlib.compress(blob, 9))


def load(path: Path) -> JudgeFile:
    """Read and check a judge file; a wrong or damaged file raises :class:`JudgeFileError`."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise JudgeFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if not raw.startswith(MAGIC):
        raise JudgeFileError(f"{path}: not a reviewer judge file")
    try:
        (length,) = struct.unpack_from("<I", raw, len(MAGIC))
        start = len(MAGIC) + 4
        meta = json.loads(raw[start:start + length])
        blob = zlib.decompress(raw[start + length:])
    except (struct.error, ValueError, zlib.error) as exc:
        raise JudgeFileError(f"{path}: damaged judge file ({exc})") from exc
    if meta.get("format") != FORMAT_VERSION:
        raise JudgeFileError(f"{path}: judge format {meta.get('format')!r}; this version reads {FORMAT_VERSION}")
    if hashlib.sha256(blob).hexdigest() != meta.get("weights_sha256"):
        raise JudgeFileError(f"{path}: weights do not match their checksum")
    bits = int(meta["bits"])
    heads: dict[str, Head] = {}
    offset = 0
    for spec in meta["heads"]:
        size = (1 << bits) * len(spec["classes"]) * 4
        weights = array("f")
        weights.frombytes(blob[offset:offset + size])
        if sys.byteorder != "little":
            weights.byteswap()
        offset += size
        heads[spec["name"]] = Head(spec["name"], tuple(spec["classes"]), tuple(spec["bias"]), weights)
    if offset != len(blob):
        raise JudgeFileError(f"{path}: weights do not match the heads described")
    return JudgeFile(bits=bits, heads=heads, meta={k: v for k, v in meta.items() if k not in ("heads", "bits")})


def _le_bytes(weights: array) -> bytes:  # type: ignore[type-arg]
    if sys.byteorder == "little":
        return weights.tobytes()
    swapped = array("f", weights)
    swapped.byteswap()
    return swapped.tobytes()
