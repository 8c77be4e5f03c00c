"""Text preparation shared by every rule: a same-length normalised copy, quoted parts, sentences.

Every helper keeps character offsets identical to the original text, so a
match found in the prepared text is a span of the original.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property

# Curly quotes and look-alikes become their straight forms; one character each, so offsets hold.
# Quote folding, one character for one (offsets stay exact): every apostrophe and quotation mark to its
# ASCII form, and non-breaking and thin spaces to a space. The rules, the merge's quote finder and the
# rewrite checks all read text through this one table.
QUOTE_FOLD: dict[str, str] = {
    "\u2019": "'", "\u2018": "'", "\u201a": "'", "\u201b": "'", "\u02bc": "'", "\u00b4": "'", "`": "'",
    "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u00a0": " ", "\u2009": " ", "\u202f": " ",
}
_NORMALISE = str.maketrans(QUOTE_FOLD)


def fold_quotes(text: str) -> str:
    """``text`` with :data:`QUOTE_FOLD` applied (same length, same offsets)."""
    return text.translate(_NORMALISE)

# A double-quoted stretch within one paragraph, or a line that starts with ">" (an e-mail quote).
_QUOTED = re.compile(r'"[^"\n]{1,400}"|^[ \t]*>[^\n]*', re.MULTILINE)
# A sentence ends at . ! ? (not inside a URL or a number) followed by space/end, or at a line break.
_SENTENCE_END = re.compile(r"[.!?\u2026]+(?=[\s\"')\]]|$)|\n\s*")
# Greetings, sign-offs and interjections that do not count as a sentence of substance.
_FILLER = re.compile(
    r"^\W*(?:(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|greetings|oh no|oh dear|oh gosh|oh my|"
    r"oh|hmm+|yikes|uh oh|whoa|wow|ahh?)\b[^.!?\n]{0,30}|[^\s]{1,25},?)\W*$",
    re.IGNORECASE,
)


# Function words: common in English, and common in the other languages customers write in
# (German, French, Spanish, Dutch, Italian, Portuguese) but not English words themselves.
_ENGLISH_LIST = (
    "the to and you your is it for of this that our be have with are my please sorry thanks thank can will "
    "not what would could here there they us was were has if at from know just like help we i me a an in on "
    "please hi hello"
)
_ENGLISH_WORDS = frozenset(_ENGLISH_LIST.split())
_OTHER_LIST = (
    "der das und ist nicht sie ich wir mit für dass ein eine bitte ihre ihnen leider uns auf den dem sich "
    "le les et est vous nous je pas une des pour votre avec ce sur mais très "
    "el los las y usted su por para una con pedido lo muy nuestro gracias "
    "het een en je niet ons wij van voor naar dank "
    "il che di non sono ci è grazie "
    "não você uma com os obrigado"
)
_OTHER_WORDS = frozenset(_OTHER_LIST.split())


# The English words above that the other languages do not use as words of their own ("a", "in", "is", "was",
# "will", "me", "on", "we" …) nor borrow ("sorry", "thanks", "please", "hi" …): one of them is English in the text.
_SHARED_OR_BORROWED = "a an in is was will me on we i hi hello sorry thanks thank please help so"
_ENGLISH_ONLY = _ENGLISH_WORDS - frozenset(_SHARED_OR_BORROWED.split())


def looks_english(lower: str) -> bool:
    """Whether a (lower-cased) text reads as English: at least as many English function words as
    words of the other languages; short texts are given the benefit of the doubt."""
    words = lower.split()  # punctuation stays attached; both sides lose alike, and it is fast
    if len(words) < 4:
        return True
    english = sum(map(_ENGLISH_WORDS.__contains__, words))
    other = sum(map(_OTHER_WORDS.__contains__, words))
    return english >= other


def has_english(lower: str) -> bool:
    """Whether a (lower-cased) text has English in it: it reads as English, or it holds a word only
    English uses ("the", "you", "with" …), however many words of other languages surround it.

    This decides whether the English rules' judgement of absences (no apology, no thanks, no next
    step) applies; padding a draft with another language's words cannot make its English disappear.
    """
    if looks_english(lower):
        return True
    return any(map(_ENGLISH_ONLY.__contains__, re.findall(r"[a-z]+", lower)))


@dataclass(frozen=True)
class Prepared:
    """The original text, same-length copies for matching (quotes masked), and sentence bounds.

    ``text`` keeps the case (for rules about capitals); ``lower`` is what the other rules read.
    """

    original: str
    text: str
    lower: str
    sentences: tuple[tuple[int, int], ...]
    quoted: tuple[tuple[int, int], ...]

    @cached_property
    def _starts(self) -> list[int]:
        return [start for start, _ in self.sentences]

    @cached_property
    def _ranks(self) -> list[int]:
        ranks, rank = [], 0
        for start, end in self.sentences:
            if not _FILLER.match(self.original[start:end]):
                rank += 1
            ranks.append(max(rank, 1))
        return ranks

    def sentence_index(self, pos: int) -> int:
        """Index of the sentence containing ``pos`` (a binary search: long texts have many matches)."""
        return max(bisect_right(self._starts, pos) - 1, 0)

    def substantive_rank(self, pos: int) -> int:
        """1-based rank of the sentence holding ``pos``, counting only sentences of substance."""
        return self._ranks[self.sentence_index(pos)]


def prepare(original: str, mask_quotes: bool = True) -> Prepared:
    """Normalise apostrophes/quotes/spaces and (for drafts) blank out quoted text, keeping offsets."""
    text = original.translate(_NORMALISE) if not original.isascii() or "`" in original else original
    quoted: list[tuple[int, int]] = []
    if mask_quotes:
        for m in _QUOTED.finditer(text):
            quoted.append((m.start(), m.end()))
        if quoted:
            chars = list(text)
            for start, end in quoted:
                for i in range(start, end):
                    if chars[i] != "\n":
                        chars[i] = " "
            text = "".join(chars)
    return Prepared(original, text, _lower(text), tuple(_split_sentences(text)), tuple(quoted))


def _lower(text: str) -> str:
    """Lower case without changing the length (a few characters, e.g. 'İ', grow when lowered)."""
    lowered = text.lower()
    if text.isascii() or len(lowered) == len(text):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _split_sentences(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        end = m.end()
        if text[start:end].strip():
            spans.append((start, end))
        start = end
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans or [(0, len(text))]
