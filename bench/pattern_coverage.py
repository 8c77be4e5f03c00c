"""Which rule patterns match labelled text at all? Lists the ones that match nothing, or one text only.

A rule is meant to name a phrase family a support lead would recognise, not to fit one
record (issue 14). This counts, for every pattern of every rule, the labelled texts it
matches (plain regex matches, before any hard negative or condition), in:

- ``real``: the 2,369 labelled real exchanges in ``../shared/realworld/`` (replies for draft
  rules, customer messages for customer rules);
- ``cases``: the written eval cases in ``evals/cases/`` (their drafts and customer messages).

Printed: each pattern that matches no labelled text (a candidate to delete), each that matches
exactly one real text and no case (a candidate "written for one record"), and the totals.

    python bench/pattern_coverage.py            # add --all to print every pattern's counts
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reviewer.evaluation.cases import load_cases
from reviewer.judge.train import load_examples
from reviewer.rules import rules
from reviewer.rules.loader import Rule, data_files
from reviewer.rules.matching import finditer
from reviewer.rules.text import Prepared, prepare

ROOT = Path(__file__).resolve().parents[1]
REALWORLD = ROOT.parent / "shared" / "realworld"


def real_texts() -> tuple[list[str], list[str]]:
    """Replies and customer messages of every labelled real exchange (read as ``reviewer train`` reads them)."""
    examples = load_examples([REALWORLD / "labels_dev.jsonl", REALWORLD / "labels_train.jsonl"],
                             [REALWORLD / "twcs_amazon_replies.jsonl", REALWORLD / "train_pool.jsonl"])
    return [ex.reply for ex in examples], [ex.customer or "" for ex in examples]


def case_texts() -> tuple[list[str], list[str]]:
    """Drafts and customer messages of the written eval cases."""
    cases = load_cases(ROOT / "evals" / "cases")
    return [c.input.draft for c in cases], [c.input.customer_message or "" for c in cases]


def yaml_patterns() -> dict[str, list[str]]:
    """Rule id -> its patterns as written in the data files (the compiled parts are in the same order)."""
    out: dict[str, list[str]] = {}
    for body in data_files().values():
        if isinstance(body, dict) and "rules" in body:
            for raw in body["rules"]:
                out[raw["id"]] = list(raw["patterns"])
    return out


def prepared(texts: list[str], customer: bool) -> list[Prepared]:
    """Each text as the rules read it (a draft's quotes masked, a customer's message as written)."""
    return [prepare(t, mask_quotes=not customer) for t in texts]


def counts(rule: Rule, texts: list[Prepared]) -> list[int]:
    """Per pattern of ``rule``: how many of ``texts`` it matches."""
    read = [p.text if rule.case_sensitive else p.lower for p in texts]
    return [sum(1 for text in read if next(finditer(part, text), None) is not None) for part in rule.parts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--all", action="store_true", help="print every pattern's counts")
    args = parser.parse_args()
    replies, customers = real_texts()
    drafts, messages = case_texts()
    real_replies, real_customers = prepared(replies, customer=False), prepared(customers, customer=True)
    case_drafts, case_customers = prepared(drafts, customer=False), prepared(messages, customer=True)
    written = yaml_patterns()
    dead, single, total = [], [], 0
    for rule in rules():
        customer = rule.scope == "customer"
        real = counts(rule, real_customers if customer else real_replies)
        cases = counts(rule, case_customers if customer else case_drafts)
        for pattern, r, c in zip(written[rule.id], real, cases, strict=True):
            total += 1
            row = f"  {rule.id:40s} real {r:4d}  cases {c:3d}  {pattern}"
            if args.all:
                print(row)
            if r == 0 and c == 0:
                dead.append(row)
            elif r == 1 and c == 0:
                single.append(row)
    print(f"{len(real_replies)} labelled real exchanges, {len(case_drafts)} written eval cases, {total} patterns\n")
    print(f"matching no labelled text ({len(dead)}):")
    print("\n".join(dead) or "  none")
    print(f"\nmatching one real text and no written case ({len(single)}):")
    print("\n".join(single) or "  none")


if __name__ == "__main__":
    main()
