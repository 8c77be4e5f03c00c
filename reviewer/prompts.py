"""Versioned prompt files: loading, hashing, the lock of published versions, and rendering.

A prompt is one Markdown file ``prompts/<id>/<version>.md`` (shipped in the package
as ``reviewer._prompts``): YAML front matter (``id``, ``version``, ``description``,
``params``) then a ``# system`` and a ``# user`` section. Templates use
``{{name}}`` placeholders, filled in one pass (a value is never re-scanned).

Every loaded prompt carries the sha256 of its file. ``prompts/LOCK`` records the
hash each published ``id@version`` had; a file whose hash differs from its lock
entry was edited without a new version (a test fails on it). ``reviewer prompts
lock`` adds entries for new versions and never rewrites an existing one.

Untrusted text (draft, customer message, context, rule findings that quote the
draft) goes into tagged blocks; any of our block tags inside that text is
defanged so it can't close its block early and pose as instructions.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import json
import re
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from reviewer.models import CriterionResult, Finding, ReviewRequest

DEFAULT_PROMPT = "review@v1"
LOCK_FILE = "LOCK"
BLOCK_TAGS = ("draft", "customer_message", "context", "rule_findings", "reply")
# What a prompt asks the model for (front matter ``output``): "review" judges every criterion and rewrites;
# "rewrite" a summary and a rewrite; "polish" only the reply, made from the deterministic repair.
OUTPUTS = ("review", "rewrite", "polish")

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_SECTION = re.compile(r"^# (system|user)\s*$", re.MULTILINE)
_TAG_IN_DATA = re.compile(r"<\s*(/?)\s*(" + "|".join(BLOCK_TAGS) + r")\b[^>]*>", re.IGNORECASE)
_REF = re.compile(r"^([a-z0-9][a-z0-9_-]*)@([a-z0-9][a-z0-9._-]*)$")


class PromptError(ValueError):
    """A prompt that can't be found, parsed or rendered."""


@dataclass(frozen=True)
class Prompt:
    id: str
    version: str
    description: str
    system: str
    user: str
    sha256: str
    text: str
    params: dict[str, Any] = field(default_factory=dict)
    output: str = "review"  # one of OUTPUTS

    @property
    def ref(self) -> str:
        """``id@version``, the name used in settings, CLI and engine metadata."""
        return f"{self.id}@{self.version}"

    @property
    def short_hash(self) -> str:
        return self.sha256[:12]


def prompts_root() -> Traversable:
    """The folder of prompt files, from the installed package.

    In a source checkout run from its root (``python -m pytest`` puts the checkout's
    ``reviewer/`` ahead of the installed one), ``reviewer._prompts`` does not exist:
    the files are then read from ``prompts/`` beside the package.
    """
    try:
        return importlib.resources.files("reviewer._prompts")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "prompts"


def parse_ref(ref: str) -> tuple[str, str]:
    """``"review@v1"`` -> ``("review", "v1")``; raises PromptError on anything else."""
    match = _REF.match(ref.strip())
    if not match:
        raise PromptError(f"bad prompt name {ref!r}: expected ID@VERSION, e.g. {DEFAULT_PROMPT}")
    return match.group(1), match.group(2)


def parse(text: str, where: str = "<prompt>") -> Prompt:
    """Parse one prompt file's text (front matter + sections)."""
    import yaml  # here, not at import: settings check a prompt's name on every cold start, without parsing it

    if not text.startswith("---\n"):
        raise PromptError(f"{where}: no front matter (the file must start with '---')")
    end = text.find("\n---\n", 4)
    if end < 0:
        raise PromptError(f"{where}: front matter is not closed with '---'")
    try:
        meta = yaml.safe_load(text[4:end]) or {}
    except yaml.YAMLError as exc:
        raise PromptError(f"{where}: front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise PromptError(f"{where}: front matter must be a mapping")
    for key in ("id", "version", "description"):
        if not isinstance(meta.get(key), str) or not meta[key]:
            raise PromptError(f"{where}: front matter needs a non-empty {key!r}")
    params = meta.get("params") or {}
    if not isinstance(params, dict):
        raise PromptError(f"{where}: 'params' must be a mapping")
    output = meta.get("output", "review")
    if output not in OUTPUTS:
        raise PromptError(f"{where}: 'output' must be one of {', '.join(OUTPUTS)}")
    body = text[end + 5 :]
    parts = _SECTION.split(body)
    sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    if set(sections) != {"system", "user"}:
        raise PromptError(f"{where}: needs exactly one '# system' and one '# user' section")
    return Prompt(
        id=meta["id"],
        version=str(meta["version"]),
        description=meta["description"],
        system=sections["system"],
        user=sections["user"],
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        text=text,
        params=dict(params),
        output=output,
    )


def check(ref: str) -> None:
    """``PromptError`` unless ``id@version`` names a prompt file the package ships (cheap: nothing is parsed)."""
    _resource(ref)


def _resource(ref: str) -> Traversable:
    prompt_id, version = parse_ref(ref)
    resource = prompts_root() / prompt_id / f"{version}.md"
    if not resource.is_file():
        known = ", ".join(p.ref for p in available()) or "none"
        raise PromptError(f"unknown prompt {ref!r} (available: {known})")
    return resource


def load(ref: str = DEFAULT_PROMPT) -> Prompt:
    """Load ``id@version`` from the package; the file's front matter must agree with its path."""
    prompt_id, version = parse_ref(ref)
    resource = _resource(ref)
    prompt = _parse_cached(resource.read_text(encoding="utf-8"), f"prompts/{prompt_id}/{version}.md")
    if (prompt.id, prompt.version) != (prompt_id, version):
        raise PromptError(f"prompts/{prompt_id}/{version}.md says it is {prompt.ref}; the path and front matter differ")
    return prompt


@functools.lru_cache(maxsize=64)
def _parse_cached(text: str, where: str) -> Prompt:
    """Parsing is the costly part of a load and runs once per review; key it on the text, so an edit is seen."""
    return parse(text, where)


def available() -> list[Prompt]:
    """Every prompt file shipped, sorted by id then version."""
    found: list[Prompt] = []
    root = prompts_root()
    for folder in root.iterdir():
        if not folder.is_dir() or folder.name.startswith(("_", ".")):
            continue
        for entry in folder.iterdir():
            if entry.is_file() and entry.name.endswith(".md"):
                found.append(load(f"{folder.name}@{entry.name[:-3]}"))
    return sorted(found, key=lambda p: (p.id, _version_key(p.version)))


def _version_key(version: str) -> tuple[int | str, ...]:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", version) if part)


# -- the lock: id@version -> sha256 of its published file --------------------------------------

def read_lock() -> dict[str, str]:
    """The lock entries ``{"review@v1": "<sha256>"}`` (empty when there is no lock file)."""
    resource = prompts_root() / LOCK_FILE
    if not resource.is_file():
        return {}
    entries: dict[str, str] = {}
    for line in resource.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            ref, digest = line.split()
            entries[ref] = digest
    return entries


def lock_status(prompt: Prompt, lock: dict[str, str] | None = None) -> str:
    """``locked`` (hash matches), ``new`` (no entry yet) or ``CHANGED`` (edited without a new version)."""
    entries = read_lock() if lock is None else lock
    expected = entries.get(prompt.ref)
    if expected is None:
        return "new"
    return "locked" if expected == prompt.sha256 else "CHANGED"


def lock_new_versions() -> list[str]:
    """Add lock entries for prompts that have none; refuse if a locked prompt changed. Returns refs added."""
    entries = read_lock()
    changed = [p.ref for p in available() if lock_status(p, entries) == "CHANGED"]
    if changed:
        raise PromptError(
            f"{', '.join(changed)} changed after being locked: put the edit in a new version file instead"
        )
    added = [p for p in available() if p.ref not in entries]
    if added:
        entries.update({p.ref: p.sha256 for p in added})
        path = prompts_root() / LOCK_FILE
        lines = ["# id@version sha256 - written by `reviewer prompts lock`; never edit an existing line"]
        lines += [f"{ref} {digest}" for ref, digest in sorted(entries.items())]
        with importlib.resources.as_file(path) as real_path:
            real_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [p.ref for p in added]


# -- rendering --------------------------------------------------------------------------------

def defang(text: str) -> str:
    """Neutralise our block tags inside untrusted text so it can't close its block."""
    return _TAG_IN_DATA.sub(lambda m: "\u2039" + m.group(1) + m.group(2) + "\u203a", text)


def fill(template: str, values: dict[str, str]) -> str:
    """Replace ``{{name}}`` placeholders in one pass; an unknown name is an error."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise PromptError(f"template placeholder {{{{{name}}}}} has no value")
        return values[name]

    return _PLACEHOLDER.sub(value, template)


def describe_context(request: ReviewRequest) -> str:
    context = request.context
    remedies = ", ".join(context.allowed_remedies) if context.allowed_remedies else (
        "none listed - promise no remedy the draft doesn't already offer; use [remedy] as a placeholder"
    )
    lines = [
        f"company: {context.company or 'not given'}",
        f"agent: {context.agent_name or 'not given'}",
        f"channel: {context.channel or 'not given'}",
        f"language: {context.language or 'same as the draft'}",
        f"allowed remedies: {remedies}",
    ]
    return "\n".join(lines)


def describe_findings(findings: list[Finding]) -> str:
    if not findings:
        return "none"
    lines = []
    for finding in findings:
        quote = f' at "{finding.span.text}"' if finding.span is not None else ""
        lines.append(f"- {finding.criterion} ({finding.severity}){quote}: {finding.message}")
    return "\n".join(lines)


def schema_instructions(schema: dict[str, Any] | None) -> str:
    """The schema spelled out in the prompt, for models without schema-constrained output."""
    if schema is None:
        return ""
    return "The JSON object must follow this JSON schema exactly:\n" + json.dumps(schema, separators=(",", ":"))


def describe_criteria(criteria: list[CriterionResult]) -> tuple[str, str]:
    """What the rules decided (``id: status`` lines) and the ids they abstained on."""
    decided = [f"{c.id}: {c.status}" for c in criteria if c.decided]
    abstained = [c.id for c in criteria if not c.decided]
    return ("\n".join(decided) or "none"), (", ".join(abstained) or "none")


def render(
    prompt: Prompt,
    request: ReviewRequest,
    findings: list[Finding],
    schema: dict[str, Any] | None = None,
    criteria: list[CriterionResult] | None = None,
    repair: str | None = None,
) -> list[dict[str, str]]:
    """The chat messages for one review: system (rubric, rules) and user (the untrusted blocks).

    ``schema`` is written into the prompt when given (JSON mode); leave it None when the
    call constrains the output with ``response_format`` json_schema instead.
    Placeholders a prompt may use: ``schema``, ``draft``, ``customer_message``,
    ``context``, ``rule_findings``, ``rules_decided`` (``id: status`` lines for the
    criteria the rules decided), ``rules_abstained`` (ids they could not decide) and
    ``repair`` (the deterministic repair of the draft, for a polish prompt).
    """
    decided, abstained = describe_criteria(criteria or [])
    values = {
        "rules_decided": decided,
        "rules_abstained": abstained,
        "schema": schema_instructions(schema),
        "draft": defang(request.draft),
        "customer_message": defang(request.customer_message) if request.customer_message else "(not given)",
        "context": defang(describe_context(request)),
        "rule_findings": defang(describe_findings(findings)),
        "repair": defang(repair) if repair else "(none: write the reply from the draft)",
    }
    return [
        {"role": "system", "content": fill(prompt.system, values).strip()},
        {"role": "user", "content": fill(prompt.user, values).strip()},
    ]
