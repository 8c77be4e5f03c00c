"""How often the rules-only reviewer agrees with careful annotators on real replies.

Runs ``reviewer.check`` over the labelled real exchanges
(``../shared/realworld/labels_dev.jsonl`` joined by id with
``twcs_amazon_replies.jsonl``) and prints: verdict agreement, the confusion
matrix, precision/recall per verdict, per-criterion agreement (gold ``na`` left
out) beside the majority answer's, throughput, the issue-9 targets, and every
disagreement (customer, reply, gold vs ours).

``--part develop|held-out`` picks a fixed split (2/3 and 1/3 by a hash of the id),
so a rule tuned on one part can be checked on the other. ``--summary`` prints
only the tables.

    python bench/quality.py --summary
    python bench/quality.py --part held-out
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from reviewer import ReviewRequest, check
from reviewer.models import Review
from reviewer.rubric import CRITERION_IDS

SHARED = Path(__file__).resolve().parents[2] / "shared" / "realworld"
VERDICTS = ("send", "revise", "block")


def load(labels_path: Path, replies_path: Path) -> list[dict[str, Any]]:
    """Labelled exchanges: each record has id, customer, reply, labels, verdict."""
    replies = {r["id"]: r for r in map(json.loads, replies_path.read_text(encoding="utf-8").splitlines())}
    out = []
    for line in labels_path.read_text(encoding="utf-8").splitlines():
        label = json.loads(line)
        reply = replies[label["id"]]
        out.append({**label, "customer": reply["customer"], "reply": reply["reply"]})
    return out


def part_of(record_id: str) -> str:
    """A fixed 2/3 : 1/3 split that does not depend on file order."""
    return "held-out" if int(hashlib.sha256(record_id.encode()).hexdigest(), 16) % 3 == 0 else "develop"


def evaluate(records: list[dict[str, Any]], judge: str | None = "none") -> tuple[list[Review], float]:
    requests = [ReviewRequest(draft=r["reply"], customer_message=r["customer"]) for r in records]
    for request in requests:  # load the rules and compile the patterns outside the timing
        check(request, judge=judge)
    started = time.process_time()  # CPU time of this process: less disturbed by other work on the machine
    reviews = [check(req, judge=judge) for req in requests]
    elapsed = time.process_time() - started
    return reviews, len(reviews) / elapsed if elapsed else float("inf")


def _ratio(num: int, den: int) -> str:
    return f"{num / den:.3f} ({num}/{den})" if den else "n/a"


def report(records: list[dict[str, Any]], reviews: list[Review], per_second: float, summary: bool) -> bool:
    """Print every table; return whether all the targets are met."""
    n = len(records)
    gold = [r["verdict"] for r in records]
    ours = [rv.verdict for rv in reviews]
    agree = sum(g == o for g, o in zip(gold, ours, strict=True))
    majority_verdict, majority_count = Counter(gold).most_common(1)[0]
    print(f"replies: {n}")
    print(f"verdict agreement: {_ratio(agree, n)}   (always '{majority_verdict}': {_ratio(majority_count, n)})")

    print("\nconfusion (rows gold, columns ours):")
    print(f"{'':>8}" + "".join(f"{v:>8}" for v in VERDICTS))
    pairs = Counter(zip(gold, ours, strict=True))
    for g in VERDICTS:
        print(f"{g:>8}" + "".join(f"{pairs[(g, o)]:>8}" for o in VERDICTS))

    print("\nper verdict:        precision            recall")
    prec: dict[str, float] = {}
    rec: dict[str, float] = {}
    for v in VERDICTS:
        tp = pairs[(v, v)]
        said = sum(o == v for o in ours)
        real = sum(g == v for g in gold)
        prec[v] = tp / said if said else 1.0
        rec[v] = tp / real if real else 1.0
        print(f"  {v:<8} {_ratio(tp, said):>22} {_ratio(tp, real):>18}")

    print("\nper criterion (gold na left out):")
    print(f"  {'criterion':<22} {'rules':>17} {'majority':>17}   {'decided: rules':>18} {'majority':>17}  decided")
    criteria_ok = True
    for cid in CRITERION_IDS:
        rows = []
        for rec_, rv in zip(records, reviews, strict=True):
            g = rec_["labels"][cid]
            if g == "na":
                continue
            res = next(c for c in rv.criteria if c.id == cid)
            rows.append((g, res.status, res.decided))
        if not rows:
            continue
        maj, _ = Counter(g for g, _, _ in rows).most_common(1)[0]
        hit = sum(g == s for g, s, _ in rows)
        maj_hit = sum(g == maj for g, _, _ in rows)
        dec = [(g, s) for g, s, d in rows if d]
        dec_hit = sum(g == s for g, s in dec)
        dec_maj = sum(g == maj for g, _ in dec)
        if dec and dec_hit < dec_maj:
            criteria_ok = False
        print(f"  {cid:<22} {_ratio(hit, len(rows)):>17} {_ratio(maj_hit, len(rows)):>17}   "
              f"{_ratio(dec_hit, len(dec)):>18} {_ratio(dec_maj, len(dec)):>17}  {len(dec)}/{len(rows)}"
              f"{'' if not dec or dec_hit >= dec_maj else '  BELOW MAJORITY'}")

    print(f"\nthroughput: {per_second:,.0f} reviews/s (check() incl. the Review model, CPU time, one pass; "
          "bench/rules_throughput.py measures it properly)")

    block_as_send = pairs[("block", "send")]
    targets = {
        "verdict agreement >= 0.90": agree / n >= 0.90,
        "block precision >= 0.95": prec["block"] >= 0.95,
        "block recall >= 0.90": rec["block"] >= 0.90,
        "no gold block gets send": block_as_send == 0,
        "send precision >= 0.90": prec["send"] >= 0.90,
        "decided criteria >= majority": criteria_ok,
    }
    print("\ntargets (issue 9):")
    for name, ok in targets.items():
        print(f"  [{'x' if ok else ' '}] {name}")

    if not summary:
        print("\ndisagreements:")
        for rec_, rv in zip(records, reviews, strict=True):
            if rec_["verdict"] == rv.verdict:
                continue
            print(f"\n#{rec_['id']}  gold {rec_['verdict']}  ours {rv.verdict}"
                  f"  (annotators agreed: {rec_.get('annotators_agree')})")
            print(f"  customer: {rec_['customer']}")
            print(f"  reply:    {rec_['reply']}")
            for f in rv.findings:
                where = f"{f.span.source}:{f.span.start}-{f.span.end} {f.span.text!r}" if f.span else "-"
                print(f"  ours: {f.severity:<10} {f.rule_id:<32} {where}")
            diffs = [f"{c.id}: gold {rec_['labels'][c.id]} / ours {c.status}{'' if c.decided else '?'}"
                     for c in rv.criteria if rec_["labels"][c.id] != "na" and rec_["labels"][c.id] != c.status]
            if diffs:
                print("  criteria: " + "; ".join(diffs))
    return all(targets.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=SHARED / "labels_dev.jsonl")
    parser.add_argument("--replies", type=Path, default=SHARED / "twcs_amazon_replies.jsonl")
    parser.add_argument("--part", choices=("all", "develop", "held-out"), default="all")
    parser.add_argument("--summary", action="store_true", help="print only the tables, not each disagreement")
    parser.add_argument("--judge", default="none",
                        help="the learned judge to review with: 'none' (rules alone, the default: the shipped judge "
                        "was trained on these labels), 'default', or a judge file")
    parser.add_argument("--generalization", action="store_true",
                        help="rules alone vs the merged judge on k-fold and leave-brand-out splits "
                        "(bench/generalization.py)")
    args = parser.parse_args(argv)
    if args.generalization:
        sys.path.insert(0, str(Path(__file__).parent))
        import generalization

        return generalization.run()
    records = load(args.labels, args.replies)
    if args.part != "all":
        records = [r for r in records if part_of(r["id"]) == args.part]
    reviews, per_second = evaluate(records, args.judge)
    print(f"part: {args.part}")
    met = report(records, reviews, per_second, args.summary)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
