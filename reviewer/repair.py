"""The deterministic repair: the draft edited sentence by sentence from the rules' findings.

Most of what a bad draft needs is mechanical, and the rules already know each span:
the fake or hedged apology, blame and brush-off sentences come out (a refusal or a
"kindly wait" becomes the finding's own suggestion), shouting is lowered, and what is
missing is added — an owned apology at the start naming what went wrong (taken from the
customer's message when a failure can be read there, with its pronouns turned round:
"my order" becomes "your order"; else a marked ``[what went wrong]``), an
acknowledgement, a next step ``by [time]``, thanks. It runs in well under a
millisecond per draft and invents nothing: no remedy, amount, date or contact detail
(a clause of the customer's that would bring one in is not used; the verification in
:mod:`reviewer.rewrite` checks the whole text again).

``repair(request, found)`` returns the verified-or-not :class:`~reviewer.models.Rewrite`
(``source="repair"``), or None when there is nothing to repair (the rules say ``send``)
or the draft is not in English (the rules cannot read it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reviewer import rewrite, rubric, rules
from reviewer.models import CriterionId, Finding, ReviewRequest, Rewrite
from reviewer.rules.text import looks_english, prepare

PLACEHOLDERS = ("[what went wrong]", "[time]", "[option]", "[alternative]", "[remedy]")
_PLACEHOLDER = re.compile(r"\[(?:what went wrong|time|option|alternative|remedy|date|failure)\]")

# Rules whose sentence is replaced by the finding's suggestion (an offer or a commitment to fill in).
_REPLACE_WITH_SUGGESTION = frozenset({"professional.nothing-we-can-do", "professional.refusal", "professional.wait"})
_LOWER_SPAN = frozenset({"professional.shouting"})
_GREETING = re.compile(
    r"^\W*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|greetings)\b[^.!?\n]{0,40}[,.!:]?\s*$", re.IGNORECASE
)
_SIGN_OFF = re.compile(
    r"^(?:[-–—~^]\s*[\w.' -]{1,30}|(?i:best|regards|kind regards|best regards|warm regards|many thanks|cheers|"
    r"sincerely|best wishes|thanks|thank you),?(?:\s+[\w.' -]{1,30})?|[A-Z][\w'.-]*(?: [A-Z][\w'.-]*){0,2})\s*$"
)
_CLAUSE_BREAK = re.compile(r",\s+|;\s+|\s+[-–—]\s+|\s+but\s+|:\s+")

# What went wrong, as the customer says it: a subject and a failure. Read from the lower-cased message.
_SUBJECT = r"(?:(?:my|our|the|this|your)(?: [\w'#-]+){1,4}?|i|we|it|they)"
_BROKEN = (
    r"(?:arrived|came|was delivered|turned up) (?:damaged|broken|late|cracked|opened|empty|wrong|incomplete|smashed|"
    r"dented|faulty|used|missing [\w ]{1,20})"
    r"|(?:is|was|were|are|got|has been|have been|'s been|keeps? getting) (?:still )?(?:lost|damaged|broken|cancell?ed|"
    r"charged twice|double charged|overcharged|late|delayed|missing|stolen|faulty|declined|rejected|locked|suspended|"
    r"blocked|stuck|delivered to the wrong \w+)"
    r"|(?:keeps?|kept) (?:crashing|failing|freezing|getting cancell?ed|being delayed)|stopped working"
    r"|(?:went|was sent|got sent|was delivered|got delivered|was shipped) to the wrong \w+"
)
_NEGATED = r"(?:still )?(?:hasn't|has not|haven't|have not|hadn't|had not|never|didn't|did not|isn't|is not|" \
           r"wasn't|was not|aren't|are not|weren't|won't|will not|doesn't|does not|can't|cannot|couldn't|not)" \
           r"(?: been| yet| even)?"
_CUSTOMER_FAILURE = re.compile(
    rf"\b{_SUBJECT} (?:{_NEGATED} (?:arrived?|been delivered|delivered|been received|received|shipped|been shipped|"
    rf"dispatched|come|turned up|shown up|showed up|been refunded|refunded|been processed|processed|been credited|"
    rf"credited|working|work|load|loading|open|been fixed|fixed|been resolved|resolved|been answered|answered)"
    rf"|{_BROKEN})\b[^.!?\n,;]{{0,40}}"
)
# Someone acting for the company failing the customer: "the technician who came on Tuesday laughed at my question".
_STAFF_FAILURE = re.compile(
    r"\b(?:the|your|a|an|one of your) (?:technician|engineer|driver|agent|courier|staff member|representative|rep|"
    r"delivery (?:guy|man|driver|person)|advisor|adviser|person on the phone)(?: who [\w ,']{1,40}?)? "
    r"(?:laughed at|was rude|were rude|hung up|ignored|shouted at|refused|lied|never (?:came|showed up|turned up)|"
    r"didn't (?:come|show up|turn up)|did not (?:come|show up|turn up)|left without|threw|damaged|broke)"
    r"[^.!?\n,;]{0,40}"
)
# What the company sent, failing: "the kettle you sent leaks" (said back: "the kettle we sent leaks").
_SENT_FAULTY = re.compile(
    r"\b(?:the|my|our) [\w'-]+(?: [\w'-]+)? (?:you|u) (?:sent|delivered|shipped|sold me|gave me) (?:me |us )?"
    r"(?:leaks|is (?:broken|faulty|damaged|leaking|wrong)|was (?:broken|faulty|damaged|wrong)|doesn't work|"
    r"does not work|won't (?:turn on|work|charge)|stopped working|arrived (?:broken|damaged|cracked|late))"
    r"[^.!?\n,;]{0,30}"
)
# "I still don't have my order" (said back: "you still don't have your order").
_NOT_GOT = re.compile(
    r"\b(?:i|we) (?:still )?(?:don't|do not|haven't|have not|didn't|did not|never) (?:have|got|gotten|get|received?)"
    r"(?: (?:my|our|the|a|any) [\w'#-]+(?: [\w'#-]+)?)\b"
)
# "still no shipping information" (said back: "there's still no shipping information").
_STILL_NO = re.compile(r"\bstill no (?:shipping|tracking|delivery|update|reply|response|answer|word|news|"
                       r"information|info|sign|email|call|confirmation|refund)"
                       r"(?: (?:information|info|update|number|date|details))?\b")
# The company, as the customer addresses it, doing something wrong: "you cancelled my table".
_COMPANY_FAILURE = re.compile(
    r"\byou(?: guys)?(?: have|'ve)? (?:cancell?ed|charged|double charged|overcharged|lost|sent|shipped|took|billed|"
    r"closed|suspended|blocked|deleted|refused|ignored|delivered)\b[^.!?\n,;]{0,60}"
)
_PROFANE = re.compile(r"\b(?:fuck\w*|shit\w*|damn\w*|crap\w*|bloody|hell|wtf|ass|arse\w*|piss\w*|bullshit|idiot\w*|"
                      r"stupid|useless|pathetic|ridiculous|joke)\b", re.IGNORECASE)
MAX_WHAT_CHARS = 90
_EVENT = re.compile(r"\b(?:birthday|christmas|anniversary|wedding|gift|present|holiday|trip|flight|vacation|event|"
                    r"party|exam|interview|funeral|graduation)\b")

# The customer's words as the agent says them back.
_SWAP = {
    "i'm": "you're", "i am": "you are", "i was": "you were", "i've": "you've", "i have": "you have", "i'd": "you'd",
    "i had": "you had", "i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself",
    "we": "you", "us": "you", "our": "your", "ours": "yours", "we're": "you're", "we've": "you've",
    "your": "our", "yours": "ours", "you're": "we're", "you've": "we've", "you guys": "we",
}
_SWAP_WORDS = re.compile(
    r"\b(?:i'm|i am|i was|i've|i have|i'd|i had|you guys|you're|you've|yours|your|you|i|me|my|mine|myself|"
    r"we're|we've|we|us|ours|our)\b",
    re.IGNORECASE,
)
_SUBJECT_VERBS = frozenset({"sent", "took", "lost", "sold", "gave", "told", "said", "have", "had", "are", "were",
                            "keep", "kept", "never", "still", "did", "didn't", "don't", "won't", "can't", "broke"})
_CLAUSE_START = re.compile(r"(?:^|[.!?,;:]|\b(?:and|but|so|then))\s*$")
# A sentence that speaks to the reviewer, not the customer (an injection attempt): it never goes to the customer.
_TO_THE_REVIEWER = re.compile(
    r"\b(?:ai|the) reviewer\b|\bignore (?:your|all|the|any|previous|prior) (?:rules|instructions)|"
    r"\b(?:approve|mark) (?:this|every|all)\b|\bverdict\b|\bcriteri(?:on|a)\b|system prompt|"
    r"</?(?:draft|system|customer_message|rule_findings|context)>|\{\s*\"(?:verdict|score)\"",
    re.IGNORECASE,
)
# Failures that may be a decision made on purpose (a security lock, a declined card): the repair owns putting
# them right, never the decision itself.
_DELIBERATE = re.compile(r"\b(?:locked|suspended|blocked|declined|rejected|closed|banned|flagged|held|on hold)\b",
                         re.IGNORECASE)
_REFERENCE = re.compile(r"\b(?:your |the )?(?:order|ticket|case|booking|reference|parcel|package|item|account|claim)"
                        r"(?: number| no\.?)?\s*#?\s*[A-Z0-9][\w-]*\d[\w-]*", re.IGNORECASE)
_LEADING_JOINER = re.compile(r"^(?:and|but|so|then|also|which|because)\s+", re.IGNORECASE)


@dataclass
class _Sentence:
    text: str
    sep: str  # the whitespace before it in the draft (a line break is kept as one)


def _sentences(draft: str) -> list[tuple[_Sentence, int]]:
    """The draft's sentences, each with the separator before it and its offset in the draft."""
    prepared = prepare(draft, mask_quotes=False)
    out: list[tuple[_Sentence, int]] = []
    previous_end = 0
    for start, end in prepared.sentences:
        raw = draft[start:end]
        lead = len(raw) - len(raw.lstrip())
        sep = draft[previous_end : start + lead]
        text = raw.strip()
        if text:
            out.append((_Sentence(text, "\n" * min(sep.count("\n"), 2) if "\n" in sep else (" " if out else "")),
                        start + lead))
        previous_end = start + lead + len(text)
    return out


def _owner(findings: list[Finding], draft: str) -> dict[int, list[Finding]]:
    """Draft findings grouped by the index of the sentence their span starts in."""
    prepared = prepare(draft, mask_quotes=False)
    grouped: dict[int, list[Finding]] = {}
    for finding in findings:
        if finding.span is not None and finding.span.source == "draft":
            grouped.setdefault(prepared.sentence_index(finding.span.start), []).append(finding)
    return grouped


def _flip(clause: str) -> str:
    """The customer's words said back by the agent: my -> your, I was -> you were, you -> we/us."""

    def one(match: re.Match[str]) -> str:
        word = match.group(0).lower()
        if word == "you":  # the company: "we" as the subject (before a verb), else "us"
            before = clause[: match.start()].rstrip()
            after = clause[match.end() :].split(maxsplit=1)
            verb = bool(after) and (after[0].lower().endswith("ed") or after[0].lower() in _SUBJECT_VERBS)
            return "we" if verb or not before or before.endswith((",", "and", "but")) else "us"
        return _SWAP.get(word, word)

    return _SWAP_WORDS.sub(one, clause)


def what_went_wrong(request: ReviewRequest) -> str | None:
    """What went wrong, in the customer's own words turned round ("your order still hasn't arrived"), or None.

    Only a clause that names a failure is used, never one that would bring an amount,
    a date, a remedy word or a contact detail into the reply, nor one that swears.
    """
    message = request.customer_message
    if not message or not message.strip():
        return None
    prepared = prepare(message, mask_quotes=False)
    lower = prepared.lower
    candidates = [m for pattern in (_CUSTOMER_FAILURE, _COMPANY_FAILURE, _STAFF_FAILURE, _SENT_FAULTY, _NOT_GOT,
                                    _STILL_NO)
                  for m in pattern.finditer(lower)]
    for match in sorted(candidates, key=lambda m: m.start()):
        if match.re is _COMPANY_FAILURE and not _CLAUSE_START.search(lower[: match.start()]):
            continue  # "the kettle you sent leaks": "you sent" is not the clause
        original = prepared.text[match.start() : match.end()]  # same offsets, the customer's own capitals
        clause = re.split(r"\s+(?:and|but|so|because|which|when|even though|although)\s+", original,
                          flags=re.IGNORECASE)[0]
        clause = clause.strip(" -'\"")
        if clause.isupper():
            clause = clause.lower()
        if match.re is _STILL_NO:
            clause = "there's " + clause[0].lower() + clause[1:]
        elif clause[:1].isupper() and not clause.startswith("I ") and not clause.startswith("I'"):
            clause = clause[0].lower() + clause[1:]
        if len(clause) > MAX_WHAT_CHARS or _PROFANE.search(clause):
            continue
        said = _flip(clause)
        if rewrite.new_promises(request, said):
            continue
        return said
    return None


def _failed(found: rules.RulesResult) -> set[str]:
    return {c.id for c in found.criteria if c.status == "fail" and c.decided}


def _customer_rules(found: rules.RulesResult) -> dict[str, Finding]:
    return {f.rule_id: f for f in found.findings
            if f.span is not None and f.span.source == "customer_message" and f.severity != "suggestion"}


def _problem_findings(found: rules.RulesResult) -> list[Finding]:
    """Draft findings the repair must act on: errors and warnings, and stock brush-offs."""
    return [f for f in found.findings if f.span is not None and f.span.source == "draft"
            and (f.severity != "suggestion" or f.rule_id == "professional.brush-off")]


def _edit(sentence: str, findings: list[Finding], offset: int, facts: list[str]) -> str | None:
    """One sentence after its findings: None when it goes, else its new text.

    The flagged clauses come out and what remains of substance stays (so "Sorry you feel that
    way, but your parcel left today." keeps its second half); a refusal or "kindly wait" becomes
    the finding's suggestion; a sentence holding a fact that would otherwise be lost is kept.
    """
    rule_ids = {f.rule_id for f in findings}
    if rule_ids <= _LOWER_SPAN:
        out = sentence
        for f in findings:
            assert f.span is not None
            start, end = f.span.start - offset, f.span.end - offset
            lowered = out[start:end].lower()
            out = out[:start] + (lowered[:1].upper() + lowered[1:] if start == 0 else lowered) + out[end:]
        return out
    carried = [fact for fact in facts if rewrite.contains(sentence, fact)]
    if rule_ids == {"professional.brush-off"} and (len(sentence) > 80 or carried):
        return sentence  # a long sentence that merely contains "at the earliest": keep it
    replacement = next((f.suggestion for f in findings if f.rule_id in _REPLACE_WITH_SUGGESTION and f.suggestion),
                       None)
    kept = _without_flagged_clauses(sentence, findings, offset)
    if kept is not None and all(rewrite.contains(kept, fact) for fact in carried):
        return kept if replacement is None else f"{kept} {replacement}."
    if carried:  # the flagged words alone come out, when the rest still carries the facts and reads as a sentence
        rest = _without_spans(sentence, findings, offset)
        if rest is not None and all(rewrite.contains(rest, fact) for fact in carried):
            return rest if replacement is None else f"{rest} {replacement}."
        return sentence  # a fact would be lost; the verification will say what is still wrong
    return None if replacement is None else replacement + "."


def _without_spans(sentence: str, findings: list[Finding], offset: int) -> str | None:
    """The sentence without the flagged words ("Obviously the machine..." -> "The machine..."), if 4+ words remain."""
    spans = sorted((f.span.start - offset, f.span.end - offset) for f in findings if f.span is not None)
    text, last = "", 0
    for start, end in spans:
        if start >= last:
            text += sentence[last:start]
            last = end
    text = re.sub(r"\s+([,.;:!?])", r"\1", re.sub(r"\s{2,}", " ", text + sentence[last:])).strip(" ,;:-–—")
    text = _LEADING_JOINER.sub("", text)
    if len(text.split()) < 4:
        return None
    return text[0].upper() + text[1:]


def _without_flagged_clauses(sentence: str, findings: list[Finding], offset: int) -> str | None:
    """The sentence without the clauses a finding falls in, when something of substance remains."""
    bounds = [0, *[m.end() for m in _CLAUSE_BREAK.finditer(sentence)], len(sentence) + 1]
    clauses = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
    spans = [(f.span.start - offset, f.span.end - offset) for f in findings if f.span is not None]
    keep = [sentence[a:b] for a, b in clauses if not any(s < b and a < e for s, e in spans)]
    text = _LEADING_JOINER.sub("", "".join(keep).strip(" ,;:-–—"))
    if len(text.split()) < 3:
        return None
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _opening(request: ReviewRequest, missing: set[CriterionId], customer: dict[str, Finding], has_apology: bool,
             about: str | None = None) -> list[str]:
    """The owned apology and the acknowledgement: what the edited draft still lacks, in that order."""
    out: list[str] = []
    again = "customer.repeat-contact" in customer
    if not has_apology:
        what = what_went_wrong(request)
        line = f"I'm sorry {what or '[what went wrong]'}"
        if about is not None:
            line += f" with {about}"
        if again:
            line += ", and that it has happened again"
        if "owns-it" not in missing:
            line += "."
        elif what is not None and _DELIBERATE.search(what):
            line += ". It's on us to put this right."  # own the fix, not a lock or decline made on purpose
        else:
            line += " — that's on us."
        out.append(line)
    elif "owns-it" in missing:
        out.append("It has happened again, and that's on us." if again else "That's on us.")
    elif again:
        out.append("I know this has happened again.")
    if "customer.support-failed" in customer:
        out.append("I'm sorry that our team didn't sort this out when you contacted us.")
    need = customer.get("customer.stated-need")
    if "acknowledges-feelings" in missing or need is not None:
        line = "I understand how frustrating this is"
        if need is not None and need.span is not None:
            event = _EVENT.search(need.span.text.lower())
            if event is not None:
                line += f", especially with the {event.group(0)} in mind"
            elif re.search(r"paid|pay|prime|premium|member|subscri", need.span.text, re.IGNORECASE):
                amount = _paid_amount(request.customer_message or "", need.span.start)
                line += f", especially as you paid {amount} for it" if amount else ", especially as you paid for it"
            else:
                line += ", especially as you needed it in time"
        out.append(line + ".")
    return out


def _paid_amount(message: str, near: int) -> str | None:
    """The amount the customer says they paid ("£9.99"), read next to the need the rules found."""
    match = rewrite.AMOUNT.search(message, near, near + 40)
    return match.group(0) if match else None


def _closing(missing: set[CriterionId], customer: dict[str, Finding]) -> list[str]:
    """A next step with a time to fill in, and thanks, when the edited draft has none."""
    out: list[str] = []
    if "next-steps" in missing:
        out.append("I'll take this on myself instead and update you by [time]."
                   if "customer.rejected" in customer else "I'll update you by [time].")
    if "thanks-customer" in missing:
        out.append("Thank you for bearing with us."
                   if "customer.repeat-contact" in customer else "Thank you for letting us know.")
    return out


@dataclass
class _Edited:
    body: list[_Sentence]
    late_apology: _Sentence | None = None  # a real apology that came late: it goes first
    about: str | None = None  # "order #A-20931", from a fake apology that was the only place it stood


def _edited_body(request: ReviewRequest, found: rules.RulesResult) -> _Edited:
    """The draft's sentences after every finding's edit, a late apology taken out, a reference kept."""
    draft = request.draft
    grouped = _owner(_problem_findings(found), draft)
    facts = rewrite.facts(request)
    late = _late_apology_starts(found)
    body: list[_Sentence] = []
    late_apology: _Sentence | None = None
    about: str | None = None
    vague = _vague_step_starts(found)
    for index, (sentence, offset) in enumerate(_sentences(draft)):
        carries = any(rewrite.contains(sentence.text, fact) for fact in facts)
        if _TO_THE_REVIEWER.search(sentence.text) and not carries:
            continue
        if not carries and index not in grouped and any(offset <= s < offset + len(sentence.text) for s in vague):
            body.append(_Sentence("I'll look into this myself and update you by [time].", sentence.sep))
            continue
        only_apology = index in grouped and {f.criterion for f in grouped[index]} == {"no-fake-apology"}
        if only_apology and carries and about is None:
            reference = _REFERENCE.search(sentence.text)
            kept = [fact for fact in facts if rewrite.contains(sentence.text, fact)]
            if reference is not None and all(rewrite.contains(reference.group(0), fact) for fact in kept):
                about = reference.group(0)  # "Sorry if order #A-20931 caused..." -> "I'm sorry ... with order #A-20931"
                continue
        if index in grouped:
            edited = _edit(sentence.text, grouped[index], offset, facts)
            if edited is None:
                if "\n" in sentence.sep and body:
                    body.append(_Sentence("", sentence.sep))  # keep the paragraph break
                continue
            sentence = _Sentence(edited, sentence.sep)
        elif late_apology is None and any(offset <= start < offset + len(sentence.text) for start in late):
            late_apology = sentence
            continue
        body.append(sentence)
    return _Edited(_tidy(body), late_apology, about)


def repaired_text(request: ReviewRequest, found: rules.RulesResult) -> str:
    """The draft repaired from the findings (see the module docstring); deterministic.

    Two steps: the edits (what the findings say must go or change), then what the edited
    draft still lacks, read by the rules on it: an early apology, ownership, an
    acknowledgement, a next step, thanks.
    """
    edited_draft = _edited_body(request, found)
    body, late_apology = edited_draft.body, edited_draft.late_apology
    greeting = body.pop(0) if body and _GREETING.match(body[0].text) else None
    sign_off: list[_Sentence] = []
    while len(body) > 1 and len(body[-1].text) <= 40 and _SIGN_OFF.match(body[-1].text):
        sign_off.insert(0, body.pop())
    if late_apology is not None and len(late_apology.text.split()) > 4:  # "Sorry about that." names nothing
        body.insert(0, _Sentence(late_apology.text, body[0].sep if body else ""))
        if len(body) > 1:
            body[1] = _Sentence(body[1].text, " " if "\n" not in body[1].sep else body[1].sep)
    edited = rules.run(request.model_copy(update={"draft": _joined(body) or "."}))
    missing = {c.id for c in edited.criteria if c.status == "fail" and c.decided}
    customer = _customer_rules(edited)
    anchor = _apology_sentence(body, edited)
    opening = _opening(request, missing, customer, has_apology=anchor is not None, about=edited_draft.about)
    items: list[_Sentence] = []
    if greeting is not None:
        items.append(greeting)
    after = anchor + 1 if anchor is not None else 0
    for index, sentence in enumerate(body[:after]):
        items.append(sentence if index else _Sentence(sentence.text, sentence.sep if greeting else ""))
    first_sep = (body[0].sep if body and greeting is not None else "") if after == 0 else " "
    items.extend(_Sentence(line, first_sep if index == 0 else " ") for index, line in enumerate(opening))
    for index, sentence in enumerate(body[after:]):
        items.append(_Sentence(sentence.text, " ") if index == 0 and opening and after == 0 else sentence)
    items.extend(_Sentence(line, " ") for line in _closing(missing, customer))
    items.extend(_Sentence(s.text, s.sep if "\n" in s.sep else "\n") for s in sign_off)
    return _joined(items).strip()


def _apology_sentence(body: list[_Sentence], edited: rules.RulesResult) -> int | None:
    """The index of the body sentence holding the edited draft's early, real apology; None when it has none."""
    apologizes = next(c for c in edited.criteria if c.id == "apologizes")
    if apologizes.status != "pass" or not apologizes.evidence:
        return None
    position = 0
    start = apologizes.evidence[0].start
    for index, sentence in enumerate(body):
        position += len(sentence.sep or " ") if index else 0
        if position <= start < position + len(sentence.text):
            return index
        position += len(sentence.text)
    return None


def _vague_step_starts(found: rules.RulesResult) -> list[int]:
    """Where a vague promise ("we'll look into it") stands in for a next step, when that is all there is."""
    steps = next((c for c in found.criteria if c.id == "next-steps"), None)
    if steps is None or steps.status != "fail":
        return []
    return [span.start for span in steps.evidence if span.source == "draft"]


def _late_apology_starts(found: rules.RulesResult) -> list[int]:
    apologizes = next((c for c in found.criteria if c.id == "apologizes"), None)
    if apologizes is None or apologizes.status != "fail" or not apologizes.evidence:
        return []
    return [span.start for span in apologizes.evidence if span.source == "draft"]


def _tidy(body: list[_Sentence]) -> list[_Sentence]:
    """Drop paragraph-break markers at the ends and doubled ones in the middle."""
    out: list[_Sentence] = []
    for sentence in body:
        if not sentence.text:
            if out and out[-1].text:
                out.append(sentence)
            continue
        if out and not out[-1].text:
            marker = out.pop()
            sentence = _Sentence(sentence.text, marker.sep if "\n" not in sentence.sep else sentence.sep)
        out.append(sentence)
    while out and not out[-1].text:
        out.pop()
    return out


def _joined(body: list[_Sentence]) -> str:
    return "".join(("" if i == 0 else sentence.sep or " ") + sentence.text for i, sentence in enumerate(body))


def placeholders(text: str) -> list[str]:
    """The placeholders left for the agent to fill in, in order, without repeats."""
    seen: list[str] = []
    for match in _PLACEHOLDER.finditer(text):
        if match.group(0) not in seen:
            seen.append(match.group(0))
    return seen


def repair(request: ReviewRequest, found: rules.RulesResult | None = None) -> Rewrite | None:
    """The repaired draft, checked like any rewrite; None when there is nothing to repair or it isn't English."""
    found = found if found is not None else rules.run(request)
    if rubric.decide_verdict(found.criteria, found.findings) == "send":
        return None
    language = request.context.language
    if (language and not language.lower().startswith("en")) or (
        not language and not looks_english(prepare(request.draft).lower)
    ):
        return None
    meant_to_fix = [c.id for c in found.criteria if c.status == "fail"]
    text = repaired_text(request, found)
    # the rules read the repair once, for its check and for the second pass
    checked = rules.run(request.model_copy(update={"draft": text}))
    problems = rewrite.problems(request, text, meant_to_fix, checked)
    if problems:  # one more pass: sentences the rules still flag in the repair come out
        second = _second_pass(request, text, checked)
        if second != text:
            second_problems = rewrite.problems(request, second, meant_to_fix)
            if len(second_problems) < len(problems):
                text, problems = second, second_problems
    return Rewrite(
        text=text,
        status="unverified" if problems else "verified",
        problems=problems,
        attempts=1,
        source="repair",
        placeholders=placeholders(text),
        facts_kept=rewrite.kept_facts(request, text),
    )


def _second_pass(request: ReviewRequest, text: str, checked: rules.RulesResult) -> str:
    """``text`` without the sentences the rules (``checked``: their result on it) still flag, facts kept."""
    flagged = [f for f in checked.findings if f.span is not None and f.span.source == "draft"
               and f.severity in ("error", "warning") and f.rule_id != rewrite.PLACEHOLDER_RULE]
    if not flagged:
        return text
    facts = rewrite.facts(request)
    grouped = _owner(flagged, text)
    prepared = prepare(text, mask_quotes=False)
    kept = []
    for index, (start, end) in enumerate(prepared.sentences):
        piece = text[start:end]
        if index in grouped and not any(rewrite.contains(piece, fact) for fact in facts):
            continue
        kept.append(piece)
    return "".join(kept).strip()


# --- checking a model's polish of the repair ----------------------------------------------------

_BRACKETED = re.compile(r"\[[^\[\]\n]{1,80}\]")
_CONTENT_WORD = re.compile(r"[a-z]{4,}")
# Words of an apology's frame, not of what went wrong: they prove nothing about the customer's case.
_FRAME_WORDS = frozenset({
    "sorry", "thats", "this", "that", "with", "your", "have", "been", "about", "what", "went", "wrong", "really",
    "truly", "very", "deeply", "sincerely", "apologise", "apologize", "apologies", "again", "happened",
})


def _content_stems(text: str) -> set[str]:
    return {word[:5] for word in _CONTENT_WORD.findall(text.lower()) if word not in _FRAME_WORDS}


def polish_problems(request: ReviewRequest, repaired: str, polished: str) -> list[str]:
    """What is wrong with a model's polish of the repair that the rubric's checks cannot see.

    Measured with the 1.5B model: it copied its instructions' example into the reply, in brackets
    ("I'm sorry [your order hasn't arrived]" to a customer charged twice), which reads as a
    placeholder and named a failure the customer never reported. So a polish may not write
    bracketed notes of its own, and what it puts in place of ``[what went wrong]`` must share a
    word with the customer's message.
    """
    problems = [f"wrote {note!r}, which is not one of the placeholders" for note in _BRACKETED.findall(polished)
                if not _PLACEHOLDER.fullmatch(note) and note not in repaired and note not in request.draft]
    if "[what went wrong]" in repaired and "[what went wrong]" not in polished and request.customer_message:
        # the words of the polish's opening sentence (where the repair puts the placeholder) that the repair's lacks
        filled = _content_stems(polished.split(".", 1)[0]) - _content_stems(repaired.split(".", 1)[0])
        if filled and not filled & _content_stems(request.customer_message):
            problems.append("names as what went wrong something the customer's message does not mention")
    return problems
