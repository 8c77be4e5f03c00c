"""Recorded model responses, so an eval (and its gate) can run anywhere without a model.

``--record`` wraps the real completion function and stores every response,
keyed by the model, the prompt's content hash and the request messages.
A re-run of ``--record`` serves what is already recorded and saves each new
response as it arrives, so an interrupted recording resumes where it stopped.
``--replay`` serves those responses instead of calling a model. A request that
was never recorded is a *miss*; when the same case was recorded under another
hash of the same prompt version, the miss says the prompt changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

CompletionFn = Callable[..., Awaitable[Any]]


class ReplayMiss(Exception):
    """No recorded response for a request; the message says why and what to do."""


def request_key(model: str, prompt_hash: str, messages: Any) -> str:
    """A stable key for one model request: model + prompt hash + the exact messages."""
    payload = json.dumps({"model": model, "prompt_hash": prompt_hash, "messages": messages},
                         sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def system_sha(messages: Any) -> str:
    """A hash of a request's system messages: the prompt's fixed part, without the case or the rules' findings."""
    system = [m.get("content") for m in messages or [] if isinstance(m, dict) and m.get("role") == "system"]
    return hashlib.sha256(json.dumps(system, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()[:32]


def model_slug(model: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("_") or "model"


@dataclass
class RecordingStore:
    """One JSON Lines file per model under ``folder``, one line per recorded response, sorted by key."""

    folder: Path
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    _dirty_models: set[str] = field(default_factory=set)
    _loaded: set[str] = field(default_factory=set)
    _current: dict[str, str] = field(default_factory=dict)  # prompt -> the hash being recorded now

    def _path(self, model: str) -> Path:
        return self.folder / f"{model_slug(model)}.jsonl"

    def _read(self, model: str) -> dict[str, dict[str, Any]]:
        """The model's file as it is now on disk (a later line is a newer recording)."""
        path = self._path(model)
        entries: dict[str, dict[str, Any]] = {}
        if not path.is_file():
            return entries
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by an interrupted recording
                entries[entry["key"]] = entry
        return entries

    def load_model(self, model: str) -> None:
        """Read the model's file once (entries already in memory win)."""
        if model in self._loaded:
            return
        self._loaded.add(model)
        for key, entry in self._read(model).items():
            self.entries.setdefault(key, entry)

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def put(self, entry: dict[str, Any]) -> None:
        """Keep a new response, appended to the model's file at once so an interrupted run loses nothing."""
        self.entries[entry["key"]] = entry
        self._dirty_models.add(entry["model"])
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._path(entry["model"]).open("a", encoding="utf-8") as file:
            file.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")

    def drop_stale(self, prompt: str, prompt_hash: str) -> None:
        """Forget responses recorded under another hash of ``prompt`` when saving (re-recording replaces them)."""
        self._current[prompt] = prompt_hash
        for key, entry in list(self.entries.items()):
            if entry.get("prompt") == prompt and entry.get("prompt_hash") != prompt_hash:
                self._dirty_models.add(entry["model"])
                del self.entries[key]

    def save(self) -> list[Path]:
        """Rewrite the file of every model that got new responses: sorted, without duplicates.

        What is on disk now is merged in first, so another run recording into the same
        folder at the same time loses nothing; this run's responses win on the same key.
        """
        written = []
        self.folder.mkdir(parents=True, exist_ok=True)
        for model in sorted(self._dirty_models):
            rows = self._read(model)
            rows.update({k: e for k, e in self.entries.items() if e["model"] == model})
            kept = sorted((e for e in rows.values()
                           if self._current.get(str(e.get("prompt")), e.get("prompt_hash")) == e.get("prompt_hash")),
                          key=lambda e: e["key"])
            path = self._path(model)
            partial = path.with_suffix(".jsonl.tmp")
            partial.write_text("".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in kept),
                               encoding="utf-8")
            os.replace(partial, path)
            written.append(path)
        self._dirty_models.clear()
        return written

    def explain_miss(self, model: str, prompt: str, prompt_hash: str, case: str | None) -> str:
        """Why nothing was recorded for this request, in words a person can act on."""
        record_hint = f"record it against a model: reviewer eval --record --model {model} --prompt {prompt}"
        same_prompt = [e for e in self.entries.values() if e["model"] == model and e.get("prompt") == prompt]
        if any(e.get("prompt_hash") != prompt_hash for e in same_prompt) and not any(
            e.get("prompt_hash") == prompt_hash for e in same_prompt
        ):
            old = sorted({str(e.get("prompt_hash")) for e in same_prompt})
            recorded = ", ".join(h[:12] for h in old)
            return f"prompt {prompt} changed (hash {prompt_hash[:12]}, recorded with {recorded}); {record_hint}"
        if not any(e["model"] == model for e in self.entries.values()):
            return f"no recorded responses for model {model} in {self.folder}; {record_hint}"
        where = f"case {case}" if case else "a request"
        return (f"no recorded response for {where} (model {model}, prompt {prompt}): the request differs from "
                f"what was recorded (the case, the rules findings or the prompt rendering changed); {record_hint}")


@dataclass
class RecordingCompletion:
    """A ``completion=`` function for the engine: records (wrapping ``inner``) or replays responses."""

    store: RecordingStore
    mode: Literal["record", "replay"]
    prompt: str
    prompt_hash: str
    inner: CompletionFn | None = None
    misses: list[str] = field(default_factory=list)
    calls: int = 0
    resumed: int = 0
    # --allow-stale: a request of the same case, prompt hash and turn whose text changed (the rules' findings
    # in it moved since recording) is served the recorded response, and counted here; a new prompt still misses.
    allow_stale: bool = False
    stale: list[str] = field(default_factory=list)
    _turns: dict[str, int] = field(default_factory=dict)

    def _next_turn(self, case: str | None) -> int:
        """Which request of its case this is (0 = the review; later ones are re-asks)."""
        if case is None:
            return 0
        turn = self._turns.get(case, 0)
        self._turns[case] = turn + 1
        return turn

    def _stale_entry(self, model: str, case: str | None, turn: int, system: str) -> dict[str, Any] | None:
        """The same case's response at this turn, asked with the very same system message (so the same prompt)."""
        if case is None:
            return None
        same = [e for e in self.store.entries.values() if e["model"] == model and e.get("case") == case
                and e.get("prompt") == self.prompt and e.get("prompt_hash") == self.prompt_hash
                and e.get("system_sha") == system]
        exact = [e for e in same if e.get("turn") == turn]
        if exact:
            return exact[0]
        return same[0] if turn == 0 and len(same) == 1 and "turn" not in same[0] else None

    def for_case(self, case: str) -> CaseCompletion:
        """The ``completion=`` function for the engine while it reviews ``case`` (the recordings are keyed by it)."""
        return CaseCompletion(self, case)

    async def complete(self, case: str | None, **kwargs: Any) -> Any:
        from reviewer import litellm_quiet

        litellm = litellm_quiet.load()

        self.calls += 1
        model = str(kwargs.get("model"))
        key = request_key(model, self.prompt_hash, kwargs.get("messages"))
        turn = self._next_turn(case)
        if self.mode == "replay":
            self.store.load_model(model)
            entry = self.store.get(key)
            if entry is None and self.allow_stale:
                entry = self._stale_entry(model, case, turn, system_sha(kwargs.get("messages")))
                if entry is not None:
                    self.stale.append(f"{case} (turn {turn})")
            if entry is None:
                message = self.store.explain_miss(model, self.prompt, self.prompt_hash, case)
                self.misses.append(message)
                raise ReplayMiss(message)
            response = litellm.ModelResponse(**entry["response"])
            if entry.get("cost_usd") is not None:
                response._hidden_params["response_cost"] = entry["cost_usd"]
            return response
        if self.inner is None:
            raise RuntimeError("recording needs the real completion function")
        self.store.load_model(model)  # keep what was recorded before (other cases, other prompts)
        recorded = self.store.get(key)
        if recorded is not None:  # resuming an interrupted recording: never ask the model twice
            self.resumed += 1
            return litellm.ModelResponse(**recorded["response"])
        try:
            response = await self.inner(**kwargs)
        except BaseException:
            if case is not None:  # the same request will be asked again: same turn
                self._turns[case] = turn
            raise
        hidden = getattr(response, "_hidden_params", None) or {}
        self.store.put({
            "key": key,
            "model": model,
            "prompt": self.prompt,
            "prompt_hash": self.prompt_hash,
            "case": case,
            "turn": turn,
            "system_sha": system_sha(kwargs.get("messages")),
            "response": response.model_dump(),
            "cost_usd": hidden.get("response_cost"),
        })
        self.store.save()  # each response on disk at once: a killed recording loses nothing
        return response


@dataclass(frozen=True)
class CaseCompletion:
    """:class:`RecordingCompletion` bound to one eval case: what the runner hands the engine as ``completion=``."""

    recorder: RecordingCompletion
    case: str

    async def __call__(self, **kwargs: Any) -> Any:
        return await self.recorder.complete(self.case, **kwargs)
