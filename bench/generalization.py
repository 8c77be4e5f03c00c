"""Does the judge carry to replies and brands it was not trained on? Rules alone vs the merged judge, same splits.

Every labelled real exchange in ``../shared/realworld/`` (the dev labels and the
multi-brand train pool, 2,369 in all) is reviewed by the rules; then, for each split,
a judge is trained by ``reviewer.judge.train.fit`` (the code ``reviewer train`` runs,
threshold and criteria chosen by its own inner cross-validation) on the training part
only, and both are scored on the held-out part:

- ``dev k-fold``: the 358 dev labels in 5 folds (the judge trains on the other folds
  and the whole train pool);
- ``leave-brand-out``: each brand group held out in turn (trained on all the others);
- ``amazon -> others``: trained on AmazonHelp only, tested on every other brand.

Printed per split: verdict agreement, the confusion matrix, block and send
precision/recall, block-labelled replies sent, per-criterion agreement (gold ``na``
left out), and the issue-14 targets. Then the judge's speed (reviews/s, one core).

    python bench/quality.py --generalization        # about 10-20 minutes on 2 cores
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from reviewer.judge import Judge
from reviewer.judge import train as judge_train
from reviewer.rubric import CRITERION_IDS

SHARED = Path(__file__).resolve().parents[2] / "shared" / "realworld"
VERDICTS = ("send", "revise", "block")

# Brand groups for leave-brand-out: one industry each, so a held-out group shares no brand with training.
BRAND_GROUPS: dict[str, tuple[str, ...]] = {
    "amazon": ("AmazonHelp",),
    "airlines": ("AmericanAir", "Delta", "British_Airways", "SouthwestAir", "AirAsiaSupport", "AlaskaAir",
                 "VirginAtlantic"),
    "telecom+finance": ("comcastcares", "TMobileHelp", "VerizonSupport", "sprintcare", "CenturyLinkHelp", "CoxHelp",
                        "Ask_Spectrum", "O2", "airtel_care", "idea_cares", "GloCare", "BoostCare", "Ask_WellsFargo",
                        "BofA_Help", "AskAmex", "AskPayPal", "AskCiti", "ChaseSupport"),
    "tech+media": ("AppleSupport", "SpotifyCares", "hulu_support", "AskPlayStation", "XboxSupport", "AdobeCare",
                   "ATVIAssist", "MicrosoftHelps", "DropboxSupport", "AzureSupport", "HPSupport", "YahooCare",
                   "GoDaddyHelp", "AsurionCares"),
    "retail+food": ("ChipotleTweets", "AskPapaJohns", "DunkinDonuts", "askpanera", "AskeBay", "Tesco", "ArgosHelpers",
                    "sainsburys", "AskTarget", "NeweggService", "marksandspencer", "Morrisons"),
    "travel+delivery": ("Uber_Support", "AskLyft", "Postmates_Help", "DoorDash_Help", "UPSHelp", "VirginTrains",
                        "GWRHelp", "nationalrailenq", "LondonMidland", "AirbnbHelp", "IHGService", "SW_Help"),
}
GROUP_OF = {brand: group for group, brands in BRAND_GROUPS.items() for brand in brands}
INNER_FOLDS = 3  # the judge's own threshold/criteria cross-validation inside each training part (5 in `reviewer train`)
WORKERS = 2


def load_all() -> tuple[list[judge_train.Example], set[str]]:
    """Every labelled exchange (featurized once), and the ids of the dev labels."""
    dev = judge_train.load_examples([SHARED / "labels_dev.jsonl"], [SHARED / "twcs_amazon_replies.jsonl"])
    pool = judge_train.load_examples([SHARED / "labels_train.jsonl"], [SHARED / "train_pool.jsonl"])
    for ex in dev:
        ex.brand = ex.brand or "AmazonHelp"
    examples = dev + pool
    judge_train.featurize(examples)
    return examples, {ex.id for ex in dev}


def group(ex: judge_train.Example) -> str:
    return GROUP_OF.get(ex.brand, "other")


Split = tuple[str, list[judge_train.Example], list[judge_train.Example]]


def splits(examples: list[judge_train.Example], dev_ids: set[str]) -> list[tuple[str, list[Split]]]:
    """(name, [(fold name, train, test), ...]); a split's figures pool all its folds' test predictions."""
    dev = [ex for ex in examples if ex.id in dev_ids]
    rest = [ex for ex in examples if ex.id not in dev_ids]
    kfold: list[Split] = []
    for k, fold in enumerate(judge_train.folds(dev, 5, seed=1)):
        held = set(fold)
        kfold.append((f"fold {k}", [ex for i, ex in enumerate(dev) if i not in held] + rest, [dev[i] for i in fold]))
    out: list[tuple[str, list[Split]]] = [("dev k-fold (5)", kfold)]
    for name in BRAND_GROUPS:
        out.append((f"leave-out {name}", [(name, [e for e in examples if group(e) != name],
                                           [e for e in examples if group(e) == name])]))
    out.append(("amazon -> others", [("others", [e for e in examples if group(e) == "amazon"],
                                       [e for e in examples if group(e) != "amazon"])]))
    return out


def judge_predictions(train_part: list[judge_train.Example], test: list[judge_train.Example]) -> tuple[
        list[str], dict[str, list[str]]]:
    """Train on ``train_part`` exactly as ``reviewer train`` does; the merged verdicts and criteria on ``test``."""
    judge = Judge(judge_train.fit(train_part, folds_k=INNER_FOLDS), name="fold")
    verdicts, criteria = [], {cid: [] for cid in CRITERION_IDS}
    for ex in test:
        verdict_p = judge.file.heads["verdict"].probabilities(ex.features)
        verdicts.append(judge_train.merged_verdict(ex, verdict_p, judge.threshold))
        for cid in CRITERION_IDS:
            status = ex.rules_criteria[cid][0]
            head = judge.file.heads.get(cid)
            if cid in judge.decides and head is not None:
                p = head.probabilities(ex.features)
                label = max(p, key=p.__getitem__)
                status = label if p[label] >= judge.criterion_threshold else status
            criteria[cid].append(status)
    return verdicts, criteria


def scores(gold: Sequence[str], ours: Sequence[str]) -> dict[str, Any]:
    n = len(gold)
    pairs = Counter(zip(gold, ours, strict=True))

    def pr(v: str) -> tuple[float | None, float | None]:
        predicted, actual, hit = sum(o == v for o in ours), sum(g == v for g in gold), pairs[(v, v)]
        return (hit / predicted if predicted else None, hit / actual if actual else None)

    return {"n": n, "verdict": sum(pairs[(v, v)] for v in VERDICTS) / n, "block": pr("block"), "send": pr("send"),
            "block_sent": pairs[("block", "send")], "confusion": pairs}


def _f(x: float | None) -> str:
    return "  n/a" if x is None else f"{x:.3f}"


def print_split(name: str, gold: list[str], rules_v: list[str], judge_v: list[str],
                gold_c: dict[str, list[str]], rules_c: dict[str, list[str]], judge_c: dict[str, list[str]]) -> dict[
                    str, Any]:
    r, j = scores(gold, rules_v), scores(gold, judge_v)
    print(f"\n### {name}  (n={r['n']}; gold {dict(Counter(gold))})")
    print(f"{'':18}{'verdict':>9}{'block P':>9}{'block R':>9}{'send P':>9}{'send R':>9}{'block->send':>13}")
    for label, s in (("rules alone", r), ("merged judge", j)):
        print(f"{label:18}{s['verdict']:>9.3f}{_f(s['block'][0]):>9}{_f(s['block'][1]):>9}{_f(s['send'][0]):>9}"
              f"{_f(s['send'][1]):>9}{s['block_sent']:>13}")
    print("confusion (rows gold; columns rules | judge):")
    for g in VERDICTS:
        print(f"  {g:>7} " + " ".join(f"{r['confusion'][(g, o)]:>5}" for o in VERDICTS) + "  | "
              + " ".join(f"{j['confusion'][(g, o)]:>5}" for o in VERDICTS))
    cells = []
    for cid in CRITERION_IDS:
        idx = [i for i, g in enumerate(gold_c[cid]) if g not in ("na", "")]
        if idx:
            agree_r = sum(rules_c[cid][i] == gold_c[cid][i] for i in idx) / len(idx)
            agree_j = sum(judge_c[cid][i] == gold_c[cid][i] for i in idx) / len(idx)
            cells.append(f"{cid} {agree_r:.2f}/{agree_j:.2f}")
    print("per criterion, rules/judge (gold na left out): " + "; ".join(cells))
    return {"rules": r, "judge": j}


_FOLD_INPUTS: list[Split] = []


def _predict_fold(index: int) -> tuple[list[str], dict[str, list[str]]]:
    _, train_part, test = _FOLD_INPUTS[index]
    return judge_predictions(train_part, test)


def run(log: Callable[[str], None] = print) -> int:
    import multiprocessing

    started = time.perf_counter()
    examples, dev_ids = load_all()
    log(f"{len(examples)} labelled exchanges ({len(dev_ids)} dev), featurized in {time.perf_counter() - started:.1f}s")
    all_splits = splits(examples, dev_ids)
    _FOLD_INPUTS[:] = [part for _, parts in all_splits for part in parts]
    with multiprocessing.get_context("fork").Pool(WORKERS) as pool:  # every fold trains its own judge
        predicted = iter(pool.map(_predict_fold, range(len(_FOLD_INPUTS))))
    results: dict[str, Any] = {}
    for name, parts in all_splits:
        gold, rules_v, judge_v = [], [], []
        gold_c: dict[str, list[str]] = {c: [] for c in CRITERION_IDS}
        rules_c: dict[str, list[str]] = {c: [] for c in CRITERION_IDS}
        judge_c: dict[str, list[str]] = {c: [] for c in CRITERION_IDS}
        for _, _, test in parts:
            verdicts, criteria = next(predicted)
            gold += [ex.verdict for ex in test]
            rules_v += [ex.rules_verdict for ex in test]
            judge_v += verdicts
            for cid in CRITERION_IDS:
                gold_c[cid] += [ex.labels.get(cid, "") for ex in test]
                rules_c[cid] += [ex.rules_criteria[cid][0] for ex in test]
                judge_c[cid] += criteria[cid]
        results[name] = print_split(name, gold, rules_v, judge_v, gold_c, rules_c, judge_c)
    print("\n## Summary (issue 14 targets: leave-brand-out verdict >= 0.86, block P >= 0.80, R >= 0.70, "
          "0 block->send, beats rules; dev k-fold >= 0.88)")
    print(f"{'split':28}{'rules':>8}{'judge':>8}{'judge bP':>10}{'judge bR':>10}{'b->s':>6}  beats rules")
    for name, res in results.items():
        r, j = res["rules"], res["judge"]
        print(f"{name:28}{r['verdict']:>8.3f}{j['verdict']:>8.3f}{_f(j['block'][0]):>10}{_f(j['block'][1]):>10}"
              f"{j['block_sent']:>6}  {'yes' if j['verdict'] > r['verdict'] else 'no'}")
    print(f"\n(total {time.perf_counter() - started:.0f}s)")
    print(json.dumps({k: {s: round(v[s]["verdict"], 4) for s in ("rules", "judge")} for k, v in results.items()}))
    return 0
