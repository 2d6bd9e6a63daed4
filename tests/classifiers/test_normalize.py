import pytest

from classifiers import normalize_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ｋｉｌｌ", "kill"),  # full-width
        ("𝐤𝐢𝐥𝐥 𝓶𝓮", "kill me"),  # mathematical alphanumerics
        ("k\u200bi\u200cl\u200dl", "kill"),  # zero-width joiners and non-joiners
        ("n\u00adaked", "naked"),  # soft hyphen
        ("kіll", "kill"),  # Cyrillic і inside a Latin word
        ("сосаіnе", "cocaine"),  # a word spelled entirely in Cyrillic look-alikes
        ("nαkεd", "naked"),  # Greek look-alikes
        ("k̲i̲l̲l̲", "kill"),  # combining underline
        ("n4k3d k1d", "naked kid"),
        ("pr0n", "pron"),
        ("@ss $hit", "ass shit"),
        ("k i l l the man", "kill the man"),
        ("n.a.k.e.d", "naked"),
        ("s-e-x video", "sex video"),
        ("k 1 l l", "kill"),  # spaced-out and leet together
        ("  many \t spaces\n here ", "many spaces here"),
    ],
)
def test_obfuscations_are_undone(raw, expected):
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    "text",
    [
        "a man with 4k 60fps 1080p mp4 3d render",
        "player1 reaches level3 in 2024",
        "covid19 h264 b52 r2d2",
        "a golden retriever running on a beach at sunset",
        "U.S. army, e.g. in 1944",
        "I am a b",
        "Привет мир",  # a real Russian phrase keeps its letters
        "一个裸体的孩子",
        "$100 for 5 apples",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert normalize_text(text) == " ".join(text.split())


def test_idempotent():
    for text in ("n4k3d k1d", "k i l l", "ｋіll\u200b", "a cat on a mat"):
        once = normalize_text(text)
        assert normalize_text(once) == once


def test_rejects_non_strings():
    with pytest.raises(TypeError):
        normalize_text(None)  # type: ignore[arg-type]
