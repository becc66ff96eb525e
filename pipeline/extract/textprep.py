"""Same-length text normalisation before parsing: datelines blanked, Title Case headlines lowered."""

from __future__ import annotations

import logging
import re
from functools import lru_cache

from spacy.language import Language

logger = logging.getLogger(__name__)

# "MAIDUGURI, Nigeria — ", "Abuja (AFP) - ", "By Isaac Abrak ABUJA, Nov 1 (Reuters) - ", "(CNN) -- "
_DATELINE = re.compile(
    r"^(?P<dl>\s*(?:By(?: [A-Z][\w.'-]+){1,4} )?(?:[A-Z][A-Za-z.'-]*(?: [A-Z][A-Za-z.'-]*){0,3}"
    r"(?:, [A-Z][\w.' ]{1,25}?)?\s*)?(?:\([A-Za-z .]{2,25}\)\s*)?(?:—|–|--|-)\s+)",
    re.M,
)
_WORD = re.compile(r"[A-Za-z][a-z]+(?:'[a-z]+)?")


# "PESHAWAR: ", "NEW DELHI, May 12: " at the start of a body paragraph (never of the title line, where
# "NATO: no talks" names a speaker)
_COLON_DATELINE = re.compile(r"(?<=\n)(?P<dl>[ \t]*[A-Z]{3,}(?: [A-Z]{3,})?(?:, [A-Z][a-z]{2,8}\.? \d{1,2})?:[ \t]+)(?=[A-Z\"“])")


def blank_datelines(text: str) -> str:
    """Replace paragraph-initial datelines by spaces (offsets are kept)."""

    def repl(m: re.Match) -> str:
        dl = m.group("dl")
        if not (re.search(r"\b[A-Z]{3,}\b", dl) or re.search(r"\([A-Za-z .]{2,25}\)", dl)):
            return dl
        return " " * len(dl)

    text = _DATELINE.sub(repl, text)
    return _COLON_DATELINE.sub(lambda m: " " * len(m.group("dl")), text)


@lru_cache(maxsize=8)
def _common_words(nlp_id: int, nlp: Language) -> frozenset[str]:
    words: set[str] = set()
    if "lemmatizer" in nlp.pipe_names:
        lookups = getattr(nlp.get_pipe("lemmatizer"), "lookups", None)
        if lookups is not None and lookups.has_table("lemma_index"):
            table = lookups.get_table("lemma_index")
            sizes = sorted(((len(v), k) for k, v in table.items()), reverse=True)
            # every part of speech but the largest table (nouns, which hold many place names)
            for _, key in sizes[1:]:
                words.update(w for w in table[key] if "_" not in w)
    return frozenset(words)


def _base_forms(w: str) -> list[str]:
    out = [w]
    for suf, rep in (("ies", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"), ("d", "")):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            out.append(w[: -len(suf)] + rep)
    return out


def is_title_case(line: str) -> bool:
    words = [w for w in re.findall(r"[A-Za-z]+", line) if len(w) > 3]
    if len(words) < 3:
        return False
    return sum(w[0].isupper() for w in words) / len(words) >= 0.7


def lower_title(line: str, nlp: Language, keep: frozenset[str] | set[str], extra: set[str]) -> str:
    """Lower-case the common words of a Title Case headline (same length); names stay."""
    common = _common_words(id(nlp), nlp)
    out = list(line)
    first = True
    for m in _WORD.finditer(line):
        w = m.group(0)
        if first:
            first = False
            continue
        lw = w.lower()
        if not w[0].isupper() or lw in keep:
            continue
        if any(b in common or b in extra for b in _base_forms(lw)):
            out[m.start()] = w[0].lower()
    return "".join(out)


def prepare(text: str, title_len: int, nlp: Language, keep: frozenset[str] | set[str], extra: set[str]) -> str:
    """The text the parser reads: same length as `text`."""
    text = blank_datelines(text)
    if title_len and is_title_case(text[:title_len]):
        text = lower_title(text[:title_len], nlp, keep, extra) + text[title_len:]
    return text
