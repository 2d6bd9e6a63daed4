"""Text normalisation applied before a prompt is scored: undoes the cheap obfuscations people use to slip past filters.

The steps, in order: Unicode NFKC; zero-width and soft-hyphen removal; combining marks stacked on Latin letters
removed; Cyrillic/Greek look-alike letters folded to Latin inside words that are (or pretend to be) Latin;
spaced-out letters joined ("k i l l", "k.i.l.l" -> "kill"); leetspeak folded in words that mix letters with
digits or @/$; whitespace collapsed. Case is kept (the encoder lowercases itself).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalize_text", "NORMALIZATION_VERSION"]

# Bumped whenever the output of normalize_text changes; the trained head records the version it was trained with.
NORMALIZATION_VERSION = "hallmark-normalize-1"

_ZERO_WIDTH = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e\u034f"), None
)

# Letters that render like Latin ones. Only used inside words that also contain Latin letters or consist entirely
# of look-alikes, so genuine Russian or Greek words (which nearly always contain a letter with no Latin twin) survive.
_HOMOGLYPHS = {
    # Cyrillic lower case
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ӏ": "l", "ԛ": "q",
    "ԝ": "w", "ү": "y", "һ": "h", "ɡ": "g",
    # Cyrillic upper case
    "А": "A", "В": "B", "Е": "E", "Ё": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ї": "I", "Ј": "J", "Ԁ": "D", "Ӏ": "I", "Ԛ": "Q",
    "Ԝ": "W", "Ү": "Y", "Һ": "H",
    # Greek lower case
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w", "ς": "s",
    # Greek upper case
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    # Latin-script oddities NFKC leaves alone
    "ı": "i", "ɑ": "a", "ʟ": "L", "ɪ": "I", "ꓲ": "I",
}
_HOMOGLYPH_TABLE = str.maketrans(_HOMOGLYPHS)

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_LEET_CHARS = frozenset("0134579@$") - {"9"}
_DIGITS = frozenset("0123456789")

# Words with digits that are ordinary vocabulary in video prompts and must not be "de-leeted".
_NUMBER_WITH_UNIT = re.compile(
    r"\d+(?:k|d|p|fps|x|s|th|st|nd|rd|am|pm|mm|cm|m|km|kg|hz|khz|gb|mb|tb|v|w|h|hr|hrs|min|mins|sec|secs|yo|ms|px"
    r"|bit|bpm|mph|kmh|f|g)",
    re.IGNORECASE,
)
_TECHNICAL_WORDS = frozenset(
    {"mp3", "mp4", "m4a", "m4v", "ps1", "ps3", "ps4", "ps5", "gpt3", "gpt4", "web3", "a4", "a3", "a5", "f1",
     "c3po", "b1", "b4", "s3", "e3", "4x4", "3ds", "ak47", "m4", "m14", "t1000"}
)

_WORD = re.compile(r"[A-Za-z0-9@$]+")
_SPACED_SEPARATED = re.compile(r"[A-Za-z0-9@$](?:[.\-_*·][A-Za-z0-9@$]){2,}\.?")
_SINGLE = re.compile(r"[A-Za-z0-9@$]")


def _is_ascii_letter(ch: str) -> bool:
    return ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _strip_combining_on_latin(text: str) -> str:
    # "k̲i̲l̲l̲" style decoration: drop combining marks that follow an ASCII letter (accents on real words are
    # harmless to drop for an English encoder; marks after non-Latin letters, e.g. Devanagari vowel signs, stay).
    out: list[str] = []
    prev_latin = False
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.combining(ch) and prev_latin:
            continue
        out.append(ch)
        prev_latin = _is_ascii_letter(ch)
    return unicodedata.normalize("NFC", "".join(out))


def _fold_homoglyphs(token: str) -> str:
    letters = [ch for ch in token if ch.isalpha()]
    if not letters:
        return token
    has_latin = any(_is_ascii_letter(ch) for ch in letters)
    has_lookalike = any(ch in _HOMOGLYPHS for ch in letters)
    if not has_lookalike:
        return token
    if has_latin or all(ch in _HOMOGLYPHS for ch in letters):
        return token.translate(_HOMOGLYPH_TABLE)
    return token


def _join_spaced_letters(tokens: list[str]) -> list[str]:
    """Join runs of >= 3 single-character tokens ("k i l l") and dotted/dashed spellings ("k.i.l.l")."""
    joined: list[str] = []
    i = 0
    while i < len(tokens):
        j = i
        while j < len(tokens) and _SINGLE.fullmatch(tokens[j]):
            j += 1
        run = tokens[i:j]
        if len(run) >= 3 and sum(_is_ascii_letter(t) for t in run) >= 2:
            joined.append("".join(run))
            i = j
            continue
        if j > i:
            joined.extend(run)
            i = j
            continue
        token = tokens[i]
        if _SPACED_SEPARATED.fullmatch(token) and sum(_is_ascii_letter(c) for c in token) >= 2:
            token = re.sub(r"[.\-_*·]", "", token)
        joined.append(token)
        i += 1
    return joined


def _unleet_word(word: str) -> str:
    letters = sum(_is_ascii_letter(c) for c in word)
    leet = sum(c in _LEET_CHARS for c in word)
    if letters == 0 or leet == 0 or len(word) < 2:
        return word
    if any(c in _DIGITS and c not in _LEET_CHARS for c in word):
        return word  # 2, 6, 8, 9 have no letter twin: "h264", "1080p", "covid19" are real words
    lower = word.lower()
    if lower in _TECHNICAL_WORDS or _NUMBER_WITH_UNIT.fullmatch(word):
        return word
    trailing = re.fullmatch(r"([A-Za-z]{4,})(\d+)", word)
    if trailing:
        return word  # "player1", "level3": a counter after a real word, not a disguise
    return word.translate(_LEET)


def _unleet(token: str) -> str:
    return _WORD.sub(lambda m: _unleet_word(m.group(0)), token)


def normalize_text(text: str) -> str:
    """Return ``text`` with Unicode and spelling obfuscations undone; the classifier scores this form."""
    if not isinstance(text, str):
        raise TypeError(f"normalize_text expects str, got {type(text).__name__}")
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_ZERO_WIDTH)
    text = _strip_combining_on_latin(text)
    tokens = text.split()
    tokens = [_fold_homoglyphs(t) for t in tokens]
    tokens = _join_spaced_letters(tokens)
    tokens = [_unleet(t) for t in tokens]
    return " ".join(tokens)
