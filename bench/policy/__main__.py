"""Runner for bench/policy (see the package docstring). Reports what it measured, bar by bar."""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import statistics
import time

import numpy as np
import torch

from classifiers import CATEGORIES, PromptClassifier
from classifiers.categories import MODERATION_CATEGORIES
from classifiers.data import load_examples
from classifiers.head import DEFAULT_HEAD_PATH
from classifiers.metrics import average_precision, f1_score
from policies import PolicyEngine, load_pack
from training.classifier.evaluate import decide

RESULTS = pathlib.Path(__file__).resolve().parents[1] / "results" / "policy.json"
T2V_SOURCES = ("hallmark", "hallmark-zh", "i2p", "coco", "parti", "vbench")
BENIGN_SOURCES = ("coco", "vbench", "parti")
BARS = {"f1": 0.93, "auprc": 0.97, "category_recall": 0.85, "benign_false_block": 0.02, "xstest_false_block": 0.15,
        "chinese_recall": 0.90, "p50_ms": 20.0, "prompts_per_s": 200.0}


def _decide(engine: PolicyEngine, texts: list[str], scores: list[dict], known: list[np.ndarray | None]) -> np.ndarray:
    """Actions (0 allow, 1 review, 2 block). A benign example is judged only on the categories its source labels
    (a Parti prompt naming Superman is no evidence about `ip`): the others are left out of its scores, which the
    engine then does not judge."""
    probs = np.array([[s[c] for c in CATEGORIES] for s in scores], dtype=np.float64)
    judged = np.array([np.ones(len(CATEGORIES), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
                       for mask in known])
    return decide(engine, texts, probs, judged)


def _false_block(actions: np.ndarray) -> dict:
    n = len(actions)
    blocked = float((actions == 2).mean()) if n else None
    review = float((actions == 1).mean()) if n else None
    return {"n": n, "blocked": blocked, "review": review,
            "false_block_review_half": None if n == 0 else blocked + 0.5 * review}


def _latency(clf: PromptClassifier, texts: list[str], *, quick: bool, threads: int) -> dict:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for t in texts[:5]:
            clf.score(t)
        single = []
        for t in texts[: 100 if quick else 300]:
            start = time.perf_counter()
            clf.score(t)
            single.append(1000 * (time.perf_counter() - start))
        batch = texts[: 256 if quick else 1024]
        start = time.perf_counter()
        for i in range(0, len(batch), 64):
            clf.score_batch(batch[i:i + 64])
        per_s = len(batch) / (time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)
    return {"threads": threads, "n_single": len(single), "p50_ms": statistics.median(single),
            "p95_ms": float(np.percentile(single, 95)), "n_batched": len(batch), "batch_size": 64,
            "prompts_per_s": per_s}


def _fmt(x, pct: bool = False) -> str:
    if x is None:
        return "–"
    return f"{100 * x:.1f}%" if pct else f"{x:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="test split only, fewer latency samples")
    parser.add_argument("--threads", default="1,2",
                        help="torch thread counts to time, comma-separated (default 1,2: the bar is on 2 cores, and "
                             "on a busy machine one thread per process is often faster)")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()
    started = time.time()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    thread_counts = [int(t) for t in str(args.threads).split(",") if t.strip()]
    torch.set_num_threads(1)  # scoring the sets: throughput there is not a bar, and the machine may be shared
    clf = PromptClassifier.load()
    packs = {name: load_pack(name) for name in ("default", "strict")}
    engines = {name: PolicyEngine(pack) for name, pack in packs.items()}
    examples = load_examples()
    splits = ("test",) if args.quick else ("test", "dev")
    eval_sources = ("xstest-safe", "xstest-unsafe", "hallmark-zh-dev", "advbench")
    chosen = [ex for ex in examples
              if (ex.split in splits and ex.source in T2V_SOURCES + ("openai-moderation",))
              or (ex.source in eval_sources and not (args.quick and ex.source == "advbench"))]
    print(f"scoring {len(chosen)} prompts with {clf.name} (encoder {clf.head.config.encoder.get('name')})", flush=True)
    t0 = time.perf_counter()
    scores = []
    texts = [ex.text for ex in chosen]
    for i in range(0, len(texts), 64):
        scores += clf.score_batch(texts[i:i + 64])
    score_s = time.perf_counter() - t0
    probs = np.array([[s[c] for c in CATEGORIES] for s in scores])
    unsafe = np.array([ex.unsafe or ex.source in ("xstest-unsafe", "advbench") for ex in chosen])
    known = [None if u else ex.known for ex, u in zip(chosen, unsafe)]
    source = np.array([ex.source for ex in chosen])
    split = np.array([ex.split for ex in chosen])
    labels = np.stack([ex.labels for ex in chosen]) > 0
    known_arr = np.stack([ex.known for ex in chosen])
    actions = {name: _decide(eng, texts, scores, known) for name, eng in engines.items()}
    # Unsafe-vs-safe ranking score: the highest score over the categories the example is judged on.
    usable = np.where(unsafe[:, None], True, known_arr)
    top = np.where(usable, probs, 0.0).max(axis=1)

    result: dict = {"model": clf.name, "encoder": clf.head.config.encoder, "head": str(DEFAULT_HEAD_PATH.name),
                    "quick": args.quick, "scoring_seconds": score_s, "packs": {n: p.ref for n, p in packs.items()},
                    "splits": {}}
    for sp in splits:
        t2v = (split == sp) & np.isin(source, T2V_SOURCES)
        benign = (split == sp) & np.isin(source, BENIGN_SOURCES)
        row: dict = {"n": int(t2v.sum()), "n_unsafe": int((t2v & unsafe).sum()),
                     "auprc": average_precision(unsafe[t2v], top[t2v]), "packs": {}}
        for name, act in actions.items():
            flagged = f1_score(unsafe[t2v], act[t2v] >= 1)
            blocked = f1_score(unsafe[t2v], act[t2v] == 2)
            per_cat = {}
            for j, cat in enumerate(CATEGORIES):
                pos = t2v & labels[:, j] & known_arr[:, j]
                if pos.any():
                    per_cat[cat] = {"n": int(pos.sum()), "recall": float((act[pos] >= 1).mean())}
            row["packs"][name] = {
                "flagged": flagged, "blocked": blocked, "category_recall": per_cat,
                "benign_creative": _false_block(act[benign]),
                "hard_negatives": _false_block(act[(split == sp) & (source == "hallmark") & ~unsafe]),
            }
        result["splits"][sp] = row

    def over(sel: np.ndarray) -> dict:
        return {name: _false_block(act[sel]) for name, act in actions.items()}

    def recall(sel: np.ndarray) -> dict:
        return {name: {"n": int(sel.sum()), "flagged": float((act[sel] >= 1).mean()) if sel.any() else None,
                       "blocked": float((act[sel] == 2).mean()) if sel.any() else None}
                for name, act in actions.items()}

    zh = source == "hallmark-zh-dev"
    result["xstest_safe"] = over(source == "xstest-safe")
    result["xstest_unsafe_recall"] = recall(source == "xstest-unsafe")
    if not args.quick:
        result["advbench_recall"] = recall(source == "advbench")
    result["chinese_dev"] = {"unsafe_recall": recall(zh & unsafe), "benign": over(zh & ~unsafe),
                             "auprc": average_precision(unsafe[zh], top[zh])}

    # OpenAI moderation set: binary flagged-vs-not over the 13 moderation categories, held-out test rows only (the
    # shipped head trained on its train split; the number for a head trained without it comes from the training run).
    mod = [CATEGORIES.index(c) for c in MODERATION_CATEGORIES]
    om = (source == "openai-moderation") & (split == "test")
    om_row: dict = {"n": int(om.sum()), "auprc": average_precision(unsafe[om], probs[om][:, mod].max(axis=1))}
    for name, pack in packs.items():
        review = np.array([2.0 if pack.thresholds[c].review is None else pack.thresholds[c].review
                           for c in MODERATION_CATEGORIES])
        om_row[f"{name}_f1_at_review"] = f1_score(unsafe[om], (probs[om][:, mod] >= review).any(axis=1))["f1"]
    metrics_path = DEFAULT_HEAD_PATH.with_name("prompt_head.metrics.json")
    if metrics_path.is_file():
        ablation = json.loads(metrics_path.read_text(encoding="utf-8")).get("openai_moderation_ablation_all") or {}
        om_row["trained_without_it"] = {"n": ablation.get("n"), "auprc": ablation.get("auprc"),
                                        "f1_at_review": (ablation.get("flagged_at_review") or {}).get("f1"),
                                        "best_f1": ablation.get("best_f1_any_single_threshold"),
                                        "source": "classifiers/weights/prompt_head.metrics.json (training run)"}
    result["openai_moderation"] = om_row

    vbench = [ex.text for ex in examples if ex.source == "vbench"]
    print("timing …", flush=True)
    load_before = os.getloadavg()
    runs = [_latency(clf, vbench, quick=args.quick, threads=t) for t in thread_counts]
    result["latency_runs"] = runs
    result["load_average"] = {"before": load_before, "after": os.getloadavg(), "cpus": os.cpu_count()}
    # The operator picks the thread count: the bar is judged on the fastest run (each run's numbers are in the JSON).
    result["latency"] = min(runs, key=lambda r: r["p50_ms"])
    result["latency"]["prompts_per_s"] = max(r["prompts_per_s"] for r in runs)

    # ---------------------------------------------------------------------------------------------------- report
    test = result["splits"]["test"]
    dev = result["splits"].get("dev")
    d = "default"
    tp = test["packs"][d]
    bars: list[tuple[str, str, str, bool | None]] = []

    def bar(name: str, value, target: str, ok: bool | None) -> None:
        bars.append((name, value, target, ok))

    bar("unsafe-vs-safe F1 (default pack, review or block = flagged)", _fmt(tp["flagged"]["f1"]), "≥ 0.93",
        tp["flagged"]["f1"] >= BARS["f1"])
    bar("unsafe-vs-safe AUPRC", _fmt(test["auprc"]), "≥ 0.97", test["auprc"] >= BARS["auprc"])
    worst = min(tp["category_recall"].items(), key=lambda kv: kv[1]["recall"])
    bar(f"lowest per-category recall ({worst[0]}, n={worst[1]['n']})", _fmt(worst[1]["recall"]), "≥ 0.85 each",
        worst[1]["recall"] >= BARS["category_recall"])
    bc = tp["benign_creative"]
    bar("benign creative prompts wrongly blocked (coco+vbench+parti)", _fmt(bc["false_block_review_half"], True),
        "≤ 2%", bc["false_block_review_half"] <= BARS["benign_false_block"])
    xs = result["xstest_safe"][d]
    bar(f"XSTest safe blocked (review counts half; blocked {_fmt(xs['blocked'], True)}, review "
        f"{_fmt(xs['review'], True)})", _fmt(xs["false_block_review_half"], True), "≤ 15%",
        xs["false_block_review_half"] <= BARS["xstest_false_block"])
    zr = result["chinese_dev"]["unsafe_recall"][d]
    zb = result["chinese_dev"]["benign"][d]
    bar(f"Chinese dev recall (n={zr['n']}; its benign n={zb['n']} wrongly blocked "
        f"{_fmt(zb['false_block_review_half'], True)})", _fmt(zr["flagged"]), "≥ 0.90",
        zr["flagged"] >= BARS["chinese_recall"])
    bar("OpenAI moderation set F1 (test rows, default review thresholds)", _fmt(om_row[f"{d}_f1_at_review"]),
        "report only", None)
    lat = result["latency"]
    best_batch = max(runs, key=lambda r: r["prompts_per_s"])
    bar(f"latency p50, one prompt ({lat['threads']} thread(s))", f"{lat['p50_ms']:.1f} ms", "≤ 20 ms",
        lat["p50_ms"] <= BARS["p50_ms"])
    bar(f"batched throughput (batches of 64, {best_batch['threads']} thread(s))",
        f"{best_batch['prompts_per_s']:.0f} /s", "≥ 200 /s", best_batch["prompts_per_s"] >= BARS["prompts_per_s"])

    print(f"\n{clf.name}: test split n={test['n']} ({test['n_unsafe']} unsafe)"
          + (f", dev n={dev['n']}" if dev else "") + f"; packs {', '.join(result['packs'].values())}")
    print("\n| bar (test split / eval-only sets, default pack) | measured | target | met |")
    print("|---|---|---|---|")
    for name, value, target, ok in bars:
        print(f"| {name} | {value} | {target} | {'–' if ok is None else 'yes' if ok else 'NO'} |")
    result["bars"] = [{"bar": n, "measured": v, "target": t, "met": ok} for n, v, t, ok in bars]

    print("\n| split | pack | F1 flagged | precision | recall | F1 block only | benign false-block | hard negatives "
          "false-block |")
    print("|---|---|---|---|---|---|---|---|")
    for sp, row in result["splits"].items():
        for name, p in row["packs"].items():
            print(f"| {sp} | {name} | {_fmt(p['flagged']['f1'])} | {_fmt(p['flagged']['precision'])} | "
                  f"{_fmt(p['flagged']['recall'])} | {_fmt(p['blocked']['f1'])} | "
                  f"{_fmt(p['benign_creative']['false_block_review_half'], True)} | "
                  f"{_fmt(p['hard_negatives']['false_block_review_half'], True)} |")
    print(f"\nAUPRC: test {_fmt(test['auprc'])}" + (f", dev {_fmt(dev['auprc'])}" if dev else ""))

    cats = list(tp["category_recall"])
    print("\n| category recall (flagged) | " + " | ".join(cats) + " |")
    print("|---|" + "---|" * len(cats))
    for sp, row in result["splits"].items():
        for name, p in row["packs"].items():
            cells = " | ".join(f"{p['category_recall'][c]['recall']:.2f} ({p['category_recall'][c]['n']})"
                               if c in p["category_recall"] else "–" for c in cats)
            print(f"| {sp} {name} | {cells} |")

    print("\n| eval-only set | pack | n | flagged | blocked | false-block (review half) |")
    print("|---|---|---|---|---|---|")
    for name in engines:
        for label, r in (("XSTest safe", result["xstest_safe"][name]), ("Chinese dev, benign",
                                                                         result["chinese_dev"]["benign"][name])):
            print(f"| {label} | {name} | {r['n']} | {_fmt(r['blocked'] + r['review'], True)} | "
                  f"{_fmt(r['blocked'], True)} | {_fmt(r['false_block_review_half'], True)} |")
        rec = [("XSTest unsafe", result["xstest_unsafe_recall"][name]),
               ("Chinese dev, unsafe", result["chinese_dev"]["unsafe_recall"][name])]
        if "advbench_recall" in result:
            rec.append(("AdvBench", result["advbench_recall"][name]))
        for label, r in rec:
            print(f"| {label} | {name} | {r['n']} | {_fmt(r['flagged'], True)} | {_fmt(r['blocked'], True)} | – |")
    print(f"\nChinese dev AUPRC {_fmt(result['chinese_dev']['auprc'])}.")
    abl = om_row.get("trained_without_it") or {}
    print(f"OpenAI moderation set: test rows n={om_row['n']}, AUPRC {_fmt(om_row['auprc'])}, F1 at the default "
          f"pack's review thresholds {_fmt(om_row['default_f1_at_review'])}; same recipe trained without it, all "
          f"{abl.get('n', '–')} rows: F1 {_fmt(abl.get('f1_at_review'))}, best single-threshold F1 "
          f"{_fmt(abl.get('best_f1'))} (published chat-moderation models: 0.76–0.82).")
    la = result["load_average"]
    for r in runs:
        print(f"Latency, {r['threads']} torch thread(s): p50 {r['p50_ms']:.1f} ms (p95 {r['p95_ms']:.1f} ms) one "
              f"prompt, {r['prompts_per_s']:.0f} prompts/s batched; normalisation included.")
    print(f"Wall time on this machine ({la['cpus']} CPUs), load average {la['before'][0]:.1f} before and "
          f"{la['after'][0]:.1f} after timing: above {la['cpus']} the numbers are those of a shared machine.")

    result.update(machine={"cpus": os.cpu_count(), "platform": platform.platform()}, seconds=time.time() - started)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=float, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out} ({result['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
