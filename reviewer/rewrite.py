"""Checking a rewrite before it is returned: it must fix what failed, keep the facts, promise nothing new.

``problems(request, rewrite, meant_to_fix)`` lists, in plain sentences the model
can act on, everything wrong with a rewrite; an empty list means verified.

1. The rules engine on the rewrite: no ``error`` or ``warning`` finding at all (either
   would make the rewrite itself ``block`` or ``revise``, including a point of the
   customer's message it still ignores); no criterion the rewrite was meant to fix (it
   failed in the draft) may still fail where the rules decide it.
2. Every fact of the draft survives: order/ticket numbers, amounts, dates, URLs,
   e-mail addresses, and names (the agent's, the company's, mid-sentence proper names).
3. Nothing new is promised: a remedy word (refund, replacement, free, credit,
   discount, voucher, compensation...), an amount, or a date/deadline in the rewrite
   that is neither in the draft nor in ``context.allowed_remedies`` is a violation
   (an amount the customer's message states may be said back: "the £9.99 you paid").
   A remedy the draft *denies* ("we can't offer a refund") is not one it offers.
   The placeholder ``[remedy]`` is allowed.

Placeholders (``[time]``, ``[what went wrong]``, ``[remedy]``...) are allowed in a rewrite: the
agent fills them in; the rule that flags them in a draft is not a problem for a rewrite.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from reviewer import rules
from reviewer.models import ReviewRequest
from reviewer.rules.text import fold_quotes

# The rule that flags an unfilled placeholder ("[time]") in a draft. A rewrite may leave placeholders
# for the agent to fill in (they are listed in ``Rewrite.placeholders``), so it is not a problem here.
PLACEHOLDER_RULE = "placeholder.unfilled"

# The facts a rewrite must keep and may not invent: links, e-mail addresses, amounts, dates.
_URL = re.compile(r"\bhttps?://[^\s<>\"')\]]+|\bwww\.[^\s<>\"')\]]+", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_MONEY_SIGN = r"[$€£¥]\s?\d[\d,]*(?:\.\d+)?"  # "$40", "£12.50"
_MONEY_WORD = r"\b\d[\d,]*(?:\.\d+)?\s?(?:USD|EUR|GBP|dollars?|euros?|pounds?)\b"  # "40 dollars"
_PERCENT = r"\b\d+(?:\.\d+)?\s?%"  # "15%"
AMOUNT = re.compile(f"(?:{_MONEY_SIGN})|(?:{_MONEY_WORD})|(?:{_PERCENT})", re.IGNORECASE)
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_DATE = re.compile(
    rf"\b\d{{4}}-\d{{2}}-\d{{2}}\b|\b\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}}\b"
    rf"|\b{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\b(?:\s+\d{{4}})?",
    re.IGNORECASE,
)
_DEADLINE = re.compile(
    r"\b(?:within|in)\s+(?:\d+|one|two|three|four|five|seven|ten|24|48|72)(?:\s*(?:-|to)\s*\d+)?\s+"
    r"(?:business\s+|working\s+)?(?:minutes?|hours?|days?|weeks?)\b"
    r"|\b\d+\s*(?:-|to)\s*\d+\s+(?:business\s+|working\s+)?(?:days?|hours?|weeks?)\b"
    r"|\b(?:today|tomorrow|tonight|end of (?:the )?(?:day|week|month))\b"
    r"|\bby\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b",
    re.IGNORECASE,
)
# Phone numbers: digit groups joined by spaces, dots or dashes, optional +country and (area); 7-15 digits in all.
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{1,5}(?:[ .-]\d{2,5}){1,4}(?![\w-])")
# Order/ticket/tracking numbers: a '#' number, or a token of 4+ characters with 4+ digits.
_REFERENCE = re.compile(r"#\s?[A-Z0-9-]{3,}|\b(?=[A-Z0-9-]*\d{4})[A-Z0-9][A-Z0-9-]{3,}\b", re.IGNORECASE)
# "free" and "credit" as offers, not "feel free to", "toll-free" or "credit card".
_REMEDY = re.compile(
    r"\b(refund\w*|replac\w*|(?<!feel )(?<!-)free(?! to\b)|credit(?!\s+cards?\b)\w*|discount\w*|voucher\w*|"
    r"coupon\w*|compensat\w*|reimburs\w*|gift\s?cards?|waive\w*|rebate\w*|money back)\b",
    re.IGNORECASE,
)
_REMEDY_STEM = {
    "refund": "refund", "replac": "replac", "free": "free", "credit": "credit", "discount": "discount",
    "voucher": "voucher", "coupon": "coupon", "compensat": "compensat", "reimburs": "reimburs",
    "gift": "gift card", "waive": "waive", "rebate": "rebate", "money": "money back",
}
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|\n\s*)$")
_PROPER = re.compile(r"\b[A-Z][a-z]+(?:[A-Z][a-z]+)*\b")
_NOT_NAMES = frozenset({
    "I", "Hi", "Hello", "Dear", "Thanks", "Thank", "Sorry", "Please", "Regards", "Best", "Cheers", "Kind",
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "Team", "Support",
    "Customer", "Service", "Hey", "Sincerely", "Ok", "Okay", "We", "You", "Our", "Your", "The", "This",
})


def _fold(text: str) -> str:
    text = fold_quotes(text)
    return re.sub(r"\s+", " ", text).lower()


def contains(haystack: str, needle: str) -> bool:
    """Whether ``needle`` occurs in ``haystack``, ignoring case, runs of whitespace and curly quotes."""
    return _fold(needle).strip() in _fold(haystack)


def _names(text: str) -> list[str]:
    """Capitalised words in mid-sentence: product, place and people names."""
    found = []
    for match in _PROPER.finditer(text):
        word = match.group(0)
        if word in _NOT_NAMES or _SENTENCE_START.search(text[: match.start()]):
            continue
        found.append(word)
    return found


_SIGNATURE = re.compile(r"^[-–—^~\s]*(?:(?:best|regards|thanks|cheers|sincerely|kind regards),?\s+)?"
                        r"([A-Z][\w'.-]*(?: [A-Z][\w'.-]*){0,2})\s*$", re.IGNORECASE)


def _signature(text: str) -> list[str]:
    """The name signing the reply: a last line of one to three capitalised words ("Maria", "- Sam K.")."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) < 2:
        return []
    match = _SIGNATURE.match(lines[-1])
    if not match:
        return []
    name = match.group(1).rstrip(".")
    words = name.split()
    if not words[0][0].isupper() or words[0] in _NOT_NAMES:
        return []
    return [name]


def _phones(text: str) -> list[str]:
    """Phone numbers in the text (not dates or amounts that happen to look like digit groups)."""
    found = []
    for match in _PHONE.finditer(text):
        number = match.group(0)
        digits = sum(ch.isdigit() for ch in number)
        longest_group = max(len(group) for group in re.findall(r"\d+", number))
        if 7 <= digits <= 15 and longest_group >= 3 and not _DATE.fullmatch(number.strip()):
            found.append(number)
    return found


def _contacts(text: str) -> list[str]:
    """Links, e-mail addresses and phone numbers: where a customer is sent to get help."""
    return ([m.group(0).rstrip(".,;:!?") for m in _URL.finditer(text)]
            + [m.group(0) for m in _EMAIL.finditer(text)] + _phones(text))


def facts(request: ReviewRequest) -> list[str]:
    """The facts of the draft a rewrite must keep, in order of appearance, without repeats."""
    return list(_facts(request.draft, request.context.agent_name, request.context.company))


@lru_cache(maxsize=8)  # the drafts being repaired now (one per thread), no more
def _facts(draft: str, agent_name: str | None, company: str | None) -> tuple[str, ...]:
    """``facts`` of one draft, found once: the repair and the checks of its rewrite ask for them several times."""
    found = _contacts(draft)
    for pattern in (AMOUNT, _DATE, _REFERENCE):
        found.extend(m.group(0).rstrip(".,;:!?") for m in pattern.finditer(draft))
    found.extend(_names(draft))
    found.extend(_signature(draft))
    for name in (agent_name, company):
        if name and contains(draft, name):
            found.append(name)
    unique: list[str] = []
    for fact in found:
        if fact and not any(contains(kept, fact) for kept in unique):
            unique = [kept for kept in unique if not contains(fact, kept)]
            unique.append(fact)
    return tuple(unique)


def _new(items: Iterable[str], allowed_text: str) -> list[str]:
    out: list[str] = []
    for item in items:
        if not contains(allowed_text, item) and item.lower() not in (o.lower() for o in out):
            out.append(item)
    return out


def new_promises(request: ReviewRequest, rewrite: str) -> list[str]:
    """Problems: remedies, amounts, dates, deadlines and contact details in the rewrite but not in the draft
    or the allowed remedies."""
    allowed = request.draft + "\n" + "\n".join(request.context.allowed_remedies)
    text = rewrite.replace("[remedy]", "")
    problems: list[str] = []
    allowed_stems = {_stem(m.group(0)) for m in _offers(request.draft)}
    for remedy in request.context.allowed_remedies:
        allowed_stems |= {_stem(m.group(0)) for m in _REMEDY.finditer(remedy)}
    remedies: list[str] = []
    for match in _offers(text):
        stem = _stem(match.group(0))
        if stem not in allowed_stems and match.group(0).lower() not in (r.lower() for r in remedies):
            remedies.append(match.group(0))
    for word in remedies:
        problems.append(f'it promises "{word}", which neither the draft nor the allowed remedies offer; '
                        "use [remedy] instead")
    said = allowed + "\n" + (request.customer_message or "")  # the customer's own amount may be said back
    for amount in _new((m.group(0) for m in AMOUNT.finditer(text)), said):
        problems.append(f'it adds the amount "{amount}", which is neither in the draft nor in the customer\'s message')
    dates = [m.group(0) for m in _DATE.finditer(text)] + [m.group(0) for m in _DEADLINE.finditer(text)]
    for when in _new(dates, allowed):
        problems.append(f'it commits to "{when}", a date or deadline that is not in the draft')
    for contact in _new(_contacts(text), allowed):
        problems.append(f'it adds the contact detail "{contact}", which is not in the draft; '
                        "send the customer only where the draft does")
    return problems


_NEGATION = re.compile(
    r"\b(?:not|no|never|cannot|unable|nothing|without|final|non)\b|n't\b|\bnon-", re.IGNORECASE
)


def _offers(text: str) -> list[re.Match[str]]:
    """Remedy words the text offers: not those denied in their sentence ("we can't refund", "no refunds")."""
    text = fold_quotes(text)
    offered = []
    for match in _REMEDY.finditer(text):
        sentence_start = max(text.rfind(mark, 0, match.start()) for mark in ".!?\n") + 1
        before = text[max(sentence_start, match.start() - 60) : match.start()]
        if not _NEGATION.search(before):
            offered.append(match)
    return offered


def _stem(word: str) -> str:
    lowered = word.lower()
    for prefix, stem in _REMEDY_STEM.items():
        if lowered.startswith(prefix):
            return stem
    return lowered


def kept_facts(request: ReviewRequest, rewrite: str) -> list[str]:
    """The draft's facts that the rewrite keeps (shown beside a rewrite; the rest are ``lost_facts``)."""
    return [fact for fact in facts(request) if contains(rewrite, fact)]


def lost_facts(request: ReviewRequest, rewrite: str) -> list[str]:
    """Problems: facts of the draft missing from the rewrite."""
    return [f'it drops "{fact}" from the draft; keep it exactly'
            for fact in facts(request) if not contains(rewrite, fact)]


def rule_problems(request: ReviewRequest, rewrite: str, meant_to_fix: Iterable[str],
                  checked: rules.RulesResult | None = None) -> list[str]:
    """Problems the rules engine finds in the rewrite (``checked``: the rules' result on it, when already run)."""
    targets = set(meant_to_fix)
    if checked is None:
        checked = rules.run(request.model_copy(update={"draft": rewrite}))
    problems: list[str] = []
    for finding in checked.findings:
        if finding.severity in ("error", "warning") and finding.rule_id != PLACEHOLDER_RULE:
            where = f' ("{finding.span.text}")' if finding.span is not None and finding.span.source == "draft" else ""
            problems.append(f"{finding.criterion}{where}: {finding.message}")
    flagged = {p.split(":", 1)[0].split(" (", 1)[0] for p in problems}
    for result in checked.criteria:
        if result.id in targets and result.decided and result.status == "fail" and result.id not in flagged:
            problems.append(f"{result.id} still fails: {result.explanation}")
    return problems


def problems(request: ReviewRequest, rewrite: str, meant_to_fix: Iterable[str],
             checked: rules.RulesResult | None = None) -> list[str]:
    """Everything wrong with ``rewrite`` (empty = verified). See the module docstring.

    ``checked``: the rules' result on ``rewrite`` when the caller already has it (the repair).
    """
    if not rewrite.strip():
        return ["the rewrite is empty"]
    return [
        *rule_problems(request, rewrite, meant_to_fix, checked),
        *lost_facts(request, rewrite),
        *new_promises(request, rewrite),
    ]


def reask_text(listed: list[str], schema: dict[str, object] | None = None) -> str:
    """The message asking the model to fix its rewrite: the exact problems, and the answer's form."""
    lines = ["Your rewrite did not pass these checks:", *(f"- {p}" for p in listed)]
    lines.append("Fix every problem and keep everything else the checklist asks for. "
                 'Reply with only a JSON object of the form {"rewrite": "<the full corrected reply>"}.')
    if schema is not None:
        import json

        lines.append("Its JSON schema: " + json.dumps(schema, separators=(",", ":")))
    return "\n".join(lines)
