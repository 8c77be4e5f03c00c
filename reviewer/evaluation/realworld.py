"""The ``realworld-dev`` case set: labelled real support replies, read at run time from ``shared/realworld/``.

The texts are real customer data under a non-commercial licence, so they are
never copied into this repository: the harness finds the shared folder
(``REVIEWER_SHARED_DIR``, else a ``shared/`` folder beside or above the
repository) and builds the cases in memory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from reviewer.evaluation.cases import CaseError, EvalCase
from reviewer.rubric import CRITERION_IDS

CASE_SET_NAME = "realworld-dev"
LABELS_FILE = "labels_dev.jsonl"
REPLIES_FILE = "twcs_amazon_replies.jsonl"


def find_shared_dir() -> Path:
    """The folder holding ``realworld/labels_dev.jsonl``."""
    env = os.environ.get("REVIEWER_SHARED_DIR")
    if env:
        candidate = Path(env)
        if (candidate / "realworld" / LABELS_FILE).is_file():
            return candidate
        raise CaseError(f"REVIEWER_SHARED_DIR={env} has no realworld/{LABELS_FILE}")
    package_root = Path(__file__).resolve().parents[2]
    for start in (Path.cwd().resolve(), package_root):
        for folder in (start, *start.parents):
            candidate = folder / "shared"
            if (candidate / "realworld" / LABELS_FILE).is_file():
                return candidate
    raise CaseError(
        f"the {CASE_SET_NAME} case set needs shared/realworld/{LABELS_FILE} beside the repository; "
        "set REVIEWER_SHARED_DIR to the folder that holds realworld/"
    )


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CaseError(f"{path}: cannot read: {exc}") from exc
    rows = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise CaseError(f"{path}:{number}: not JSON: {exc}") from exc
    return rows


def load_realworld_dev(shared_dir: Path | None = None) -> list[EvalCase]:
    """One case per labelled exchange: the reply as the draft, the tweet as the customer's message."""
    shared = shared_dir or find_shared_dir()
    replies = {row["id"]: row for row in _read_jsonl(shared / "realworld" / REPLIES_FILE)}
    cases = []
    for label in _read_jsonl(shared / "realworld" / LABELS_FILE):
        exchange = replies.get(label["id"])
        if exchange is None:
            raise CaseError(f"{LABELS_FILE}: id {label['id']} has no exchange in {REPLIES_FILE}")
        criteria = {cid: [label["labels"][cid]] for cid in CRITERION_IDS if cid in label["labels"]}
        agree = "annotators agreed" if label.get("annotators_agree") else "settled by a third reading"
        cases.append(
            EvalCase.model_validate(
                {
                    "id": f"rw-{label['id']}",
                    "tags": ["realworld", "social", str(exchange.get("intent", "other"))],
                    "rationale": f"real {exchange.get('brand', '')} reply, labelled by two annotators ({agree})",
                    "input": {
                        "draft": exchange["reply"],
                        "customer_message": exchange["customer"],
                        "context": {"company": "Amazon", "channel": "social"},
                    },
                    "expect": {
                        "verdict": label["verdict"],
                        "criteria": criteria,
                        "criteria_decide_pass": False,
                    },
                }
            )
        )
    return cases
