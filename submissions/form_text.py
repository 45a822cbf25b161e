"""Free text typed into the submit form: what is refused, what is shown, and the key a team is counted under.

Names are shown exactly as typed after Unicode NFKC (full-width letters, ligatures and compatibility spaces
become their plain forms). Characters that cannot be seen or that reorder the text around them (zero-width
spaces, bidirectional overrides, other format and control characters) are refused, since they let one team
look like another or make a row read differently from what is stored. Counting goes one step further: case,
accents and Cyrillic/Greek letters that look like Latin ones are folded, so look-alike names share one limit.

No confusables table ships with the installed packages, so the folding below covers the Cyrillic and Greek
letters that are drawn like Latin ones (Unicode TR39's confusables for those scripts, lower case after
case-folding); other scripts keep their own letters.
"""

from __future__ import annotations

import unicodedata

# Categories never allowed in a form field: controls, format characters (zero-width, bidi embeddings,
# overrides and isolates, BOM, soft hyphen), surrogates, private use, unassigned, line/paragraph separators.
_REFUSED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}

# Cyrillic and Greek letters drawn like a Latin letter, mapped to that letter in the same case (before
# case-folding, since e.g. Greek capital Nu looks like N but its lower case like v).
_LOOK_ALIKES = str.maketrans(dict(zip(
    "АВЕЁЅІЇЈКМНОРСТУХҮҺԀԚԜӀ" "аеёорсухѕіїјһԁԛԝӏүвкмнт"
    "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧϹͿ" "αικνορυχϲϳγ" "ıɡ",
    "ABEESIIJKMHOPCTYXYHDQWI" "aeeopcyxsiijhdqwlybkmht"
    "ABEZHIKMNOPTYXCJ" "aikvopuxcjy" "ig",
)))
# A word may mix Latin only with the scripts written alongside it (Unicode TR39 "highly restrictive"):
# Japanese, Chinese and Korean. Any other mix (Latin with Cyrillic, Greek, Cherokee, ...) is how a look-alike
# of another name is typed.
_MIXES_WITH_LATIN = {"CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA", "HANGUL", "BOPOMOFO"}
MAX_STACKED_MARKS = 2


def clean_name(text: str) -> str:
    """A name as stored and shown: NFKC (full-width letters, ligatures, odd spaces made plain), spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def refused_characters(text: str, allow_newlines: bool = False) -> list[str]:
    """Invisible, control and direction-changing characters in ``text``, as 'U+200B ZERO WIDTH SPACE'."""
    allowed = "\n\t" if allow_newlines else ""
    found = []
    for ch in dict.fromkeys(text):
        if ch not in allowed and unicodedata.category(ch) in _REFUSED_CATEGORIES:
            found.append(f"U+{ord(ch):04X} {unicodedata.name(ch, 'control character')}")
    return found


def _script(ch: str) -> str:
    return unicodedata.name(ch, "UNKNOWN").split(" ")[0]


def mixed_script_words(text: str) -> list[str]:
    """Words whose letters come from scripts that are not written together (e.g. 'Еvade': Cyrillic Е)."""
    mixed = []
    for word in text.split():
        scripts = {_script(ch) for ch in word if ch.isalpha()}
        if len(scripts) > 1 and not (scripts <= _MIXES_WITH_LATIN | {"LATIN"}):
            mixed.append(word)
        elif len(scripts - {"LATIN"}) > 1 and not (scripts - {"LATIN"}) <= _MIXES_WITH_LATIN:
            mixed.append(word)
    return mixed


def has_stacked_marks(text: str) -> bool:
    """More than MAX_STACKED_MARKS combining marks on one letter ('zalgo' text that spills over other rows)."""
    run = 0
    for ch in text:
        run = run + 1 if unicodedata.combining(ch) else 0
        if run > MAX_STACKED_MARKS:
            return True
    return False


def team_key(team: str) -> str:
    """The key limits are counted under: case, accents, spacing, invisible characters and look-alike letters
    do not make a new team."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", team).translate(_LOOK_ALIKES))
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _REFUSED_CATEGORIES
                   and not unicodedata.combining(ch))
    return " ".join(unicodedata.normalize("NFKC", text).translate(_LOOK_ALIKES).casefold().split())


def shown(text: str, limit: int = 60) -> str:
    """A typed value as it may be quoted back in a message: refused characters spelled out, long text cut."""
    text = "".join(f"\\u{ord(ch):04x}" if unicodedata.category(ch) in _REFUSED_CATEGORIES else ch
                   for ch in str(text).strip()[: limit + 1])
    return text if len(text) <= limit else text[:limit] + "…"
