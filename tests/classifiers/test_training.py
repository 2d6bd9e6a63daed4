"""Training pieces that run in milliseconds: the data mapping, the splits, the head's reproducibility, metrics."""

import numpy as np
import pytest
import torch

from classifiers.categories import CATEGORIES, PARENT
from classifiers.data import DATA_DIR, _example, assign_splits, load_examples
from classifiers.head import HeadConfig
from classifiers.metrics import auroc, average_precision, f1_score
from training.classifier.fit import train_head


@pytest.fixture(scope="module")
def examples():
    return load_examples()


def test_sub_category_implies_parent_and_absent_parent_rules_out_children():
    ex = _example("x", {"sexual/minors"}, set(), "t")
    i = CATEGORIES.index
    assert ex.labels[i("sexual")] == 1 and ex.labels[i("sexual/minors")] == 1
    neg = _example("y", set(), {"self-harm"}, "t")
    assert neg.known[i("self-harm/intent")] and neg.known[i("self-harm/instructions")]
    assert not neg.known[i("violence")]


def test_every_positive_has_its_parent(examples):
    for ex in examples:
        for child, parent in PARENT.items():
            if ex.labels[CATEGORIES.index(child)]:
                assert ex.labels[CATEGORIES.index(parent)], ex.text


def test_splits_are_disjoint_and_reproducible(examples):
    by_split = {}
    for ex in examples:
        by_split.setdefault(ex.split, set()).add(ex.text.casefold())
    assert set(by_split) == {"train", "dev", "test", "eval"}
    assert not by_split["train"] & by_split["test"]
    assert not by_split["train"] & by_split["dev"]
    assert not by_split["train"] & by_split["eval"]
    again = load_examples()
    assert [e.split for e in again] == [e.split for e in examples]


def test_evaluation_only_sources_are_never_trained_on(examples):
    for ex in examples:
        if ex.source in ("xstest-safe", "xstest-unsafe", "advbench", "hallmark-zh-dev"):
            assert ex.split == "eval"


def test_stratified_split_keeps_rare_labels_in_test(examples):
    test_pos = {c for ex in examples if ex.split == "test" for c, y in zip(CATEGORIES, ex.labels) if y}
    assert {"real_person", "ip", "deception", "sexual/minors", "violence/graphic"} <= test_pos


def test_assign_splits_fractions():
    exs = [_example(f"text {i}", set(), set(CATEGORIES), "s") for i in range(100)]
    assign_splits(exs, seed=1)
    counts = {s: sum(e.split == s for e in exs) for s in ("train", "dev", "test")}
    assert counts == {"train": 70, "dev": 15, "test": 15}


def test_training_data_is_inside_the_package():
    for name in ("openai-moderation", "i2p", "coco30k", "vbench", "partiprompts", "harmbench", "strongreject",
                 "xstest", "advbench", "hallmark"):
        assert (DATA_DIR / name / "SOURCES.md").is_file(), name
    total = sum(p.stat().st_size for p in DATA_DIR.rglob("*") if p.is_file())
    assert total < 5 * 1024 * 1024


def test_head_training_is_reproducible():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 8, generator=gen)
    y = (torch.rand(64, len(CATEGORIES), generator=gen) > 0.7).float()
    known = torch.ones_like(y, dtype=torch.bool)
    w = torch.ones(64)
    config = HeadConfig(name="t", categories=list(CATEGORIES), in_features=8, hidden=4, dropout=0.1,
                        pooling=["mean", "max"], max_length=16, normalization="n")
    kw = dict(seed=3, epochs=3, lr=1e-2, weight_decay=0.0, batch_size=16)
    a = train_head(x, y, known, w, config, **kw)
    b = train_head(x, y, known, w, config, **kw)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def test_metrics():
    labels = np.array([0, 0, 1, 1])
    assert auroc(labels, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert auroc(labels, np.array([0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.5)
    assert auroc(np.array([1, 1]), np.array([0.1, 0.2])) is None
    assert average_precision(labels, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx((1 + 2 / 3) / 2)
    f = f1_score(labels, np.array([0, 1, 1, 1]))
    assert f["precision"] == pytest.approx(2 / 3) and f["recall"] == 1.0
