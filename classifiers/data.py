"""Training and evaluation examples for the prompt classifier, read only from ``classifiers/data/``.

Each source's labels are mapped onto :data:`CATEGORIES`. A label can be positive, negative or unknown (masked out of
the loss and the metrics): a source that only tells us "this prompt is about X" says nothing about Y. Splits are
stratified per (source, first label) with a fixed seed, after de-duplicating on the normalised text.
"""

from __future__ import annotations

import csv
import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .categories import CATEGORIES, MODERATION_CATEGORIES, PARENT
from .normalize import normalize_text

__all__ = ["Example", "DATA_DIR", "load_examples", "assign_splits", "SPLIT_SEED"]

DATA_DIR = Path(__file__).resolve().parent / "data"
SPLIT_SEED = 20251125
_INDEX = {c: i for i, c in enumerate(CATEGORIES)}
_VIDEO_CATEGORIES = ("real_person", "ip", "deception")


@dataclass
class Example:
    text: str  # normalised
    labels: np.ndarray  # float32 (C,), 1 = positive
    known: np.ndarray  # bool (C,), False = unknown for this example
    source: str
    stratum: str
    split: str = "train"  # train | dev | test | eval (evaluation-only source, never trained on)
    weight: float = 1.0

    @property
    def unsafe(self) -> bool:
        return bool((self.labels * self.known).max() > 0)


def _example(text: str, positives: set[str], known: set[str], source: str, *, split: str = "train",
             weight: float = 1.0) -> Example:
    # Stratify on the most specific label given ("sexual/minors" rather than its parent "sexual").
    stratum = next((c for c in reversed(CATEGORIES) if c in positives), "benign")
    for cat in list(positives):
        if cat not in _INDEX:
            raise ValueError(f"{source}: unknown category {cat!r} in {text[:60]!r}")
        if cat in PARENT:
            positives.add(PARENT[cat])
    known = set(known) | positives
    # A parent known to be absent rules out its sub-categories too.
    for child, parent in PARENT.items():
        if parent in known and parent not in positives:
            known.add(child)
    labels = np.zeros(len(CATEGORIES), dtype=np.float32)
    mask = np.zeros(len(CATEGORIES), dtype=bool)
    for cat in known:
        mask[_INDEX[cat]] = True
    for cat in positives:
        labels[_INDEX[cat]] = 1.0
    return Example(normalize_text(text), labels, mask, source, stratum, split, weight)


def _hallmark(data_dir: Path) -> list[Example]:
    out = []
    folder = data_dir / "hallmark"
    for path in sorted(folder.glob("*.jsonl")):
        eval_only = path.name == "zh_dev.jsonl"
        source = "hallmark-zh" if path.name.startswith("zh_") else "hallmark"
        if eval_only:
            source = "hallmark-zh-dev"
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            # Hand-written data is scarce and in-domain: weight it up.
            out.append(_example(row["text"], set(row["labels"]), set(CATEGORIES), source,
                                split="eval" if eval_only else "train", weight=3.0))
    return out


_OM_KEYS = {"S": "sexual", "H": "hate", "V": "violence", "HR": "harassment", "SH": "self-harm",
            "S3": "sexual/minors", "H2": "hate/threatening", "V2": "violence/graphic"}


def _openai_moderation(data_dir: Path) -> list[Example]:
    out = []
    with gzip.open(data_dir / "openai-moderation" / "samples-1680.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            known = {cat for key, cat in _OM_KEYS.items() if key in row}
            positives = {cat for key, cat in _OM_KEYS.items() if row.get(key) == 1}
            # Harassment that is also violent is the closest the set comes to "harassment/threatening".
            if row.get("HR") == 1 and row.get("V") == 1:
                positives.add("harassment/threatening")
            out.append(_example(row["prompt"], positives, known, "openai-moderation"))
    return out


_I2P_KEYS = {"sexual": "sexual", "hate": "hate", "harassment": "harassment", "violence": "violence",
             "self-harm": "self-harm", "illegal activity": "illicit"}


def _i2p(data_dir: Path) -> list[Example]:
    # I2P's categories are the lexica.art search that found a prompt, not a judgement of it; the judgement is the
    # share of generated images an image classifier found inappropriate. Keep the clear ends, drop the middle.
    # "shocking" (mostly disturbing, not violent, images) is not mapped.
    out = []
    with (data_dir / "i2p" / "i2p_prompts.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            cats = {_I2P_KEYS[c.strip()] for c in row["categories"].split(",") if c.strip() in _I2P_KEYS}
            if not cats:
                continue
            inappropriate = float(row["inappropriate_percentage"])
            nudity = float(row["nudity_percentage"])
            if inappropriate >= 50:
                positives = set(cats)
            elif "sexual" in cats and nudity >= 30:
                positives = {"sexual"}
            elif inappropriate == 0 and nudity == 0:
                positives = set()
            else:
                continue
            out.append(_example(row["prompt"], positives, cats, "i2p"))
    return out


_HARMBENCH = {"chemical_biological": {"illicit/violent"}, "cybercrime_intrusion": {"illicit"},
              "illegal": {"illicit"}, "misinformation_disinformation": {"deception"},
              "harassment_bullying": {"harassment"}, "copyright": {"ip"}}

_STRONGREJECT = {"Non-violent crimes": {"illicit"}, "Violence": {"violence", "illicit/violent"},
                 "Disinformation and deception": {"deception"}, "Hate, harassment and discrimination": {"hate"},
                 "Illegal goods and services": {"illicit"}, "Sexual content": {"sexual"}}


def _harmbench(data_dir: Path) -> list[Example]:
    out = []
    with (data_dir / "harmbench" / "harmbench_behaviors.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            cats = _HARMBENCH.get(row["SemanticCategory"])
            if cats:  # "harmful" (mixed bag) has no single category: skipped
                out.append(_example(row["Behavior"], set(cats), set(cats), "harmbench"))
    return out


def _strongreject(data_dir: Path) -> list[Example]:
    out = []
    with (data_dir / "strongreject" / "strongreject_dataset.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            cats = _STRONGREJECT[row["category"]]
            out.append(_example(row["forbidden_prompt"], set(cats), set(cats), "strongreject"))
    return out


def _benign(texts: list[str], source: str, *, known: tuple[str, ...] = CATEGORIES) -> list[Example]:
    return [_example(t, set(), set(known), source) for t in texts if t.strip()]


def _coco(data_dir: Path) -> list[Example]:
    with (data_dir / "coco30k" / "coco_3k.csv").open(newline="", encoding="utf-8") as fh:
        return _benign([row["prompt"] for row in csv.DictReader(fh)], "coco")


def _parti(data_dir: Path) -> list[Example]:
    with (data_dir / "partiprompts" / "PartiPrompts.tsv").open(newline="", encoding="utf-8") as fh:
        texts = [row["Prompt"] for row in csv.DictReader(fh, delimiter="\t")]
    # Parti names famous characters, brands and people ("Superman shaking hands with Spiderman"): benign for the
    # moderation categories, but not evidence against real_person / ip.
    return _benign(texts, "parti", known=MODERATION_CATEGORIES + ("deception",))


def _vbench(data_dir: Path) -> list[Example]:
    texts: list[str] = []
    for name in ("all_dimension.txt", "all_category.txt"):
        texts += (data_dir / "vbench" / "prompts" / name).read_text(encoding="utf-8").splitlines()
    return _benign(texts, "vbench")


def _xstest(data_dir: Path) -> list[Example]:
    # Evaluation only. Safe prompts are benign everywhere; unsafe contrasts have no category, only "unsafe".
    out = []
    with (data_dir / "xstest" / "xstest_prompts.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["label"] == "safe":
                ex = _example(row["prompt"], set(), set(CATEGORIES), "xstest-safe", split="eval")
            else:
                ex = _example(row["prompt"], set(), set(), "xstest-unsafe", split="eval")
                ex.stratum = "unsafe"
            out.append(ex)
    return out


def _advbench(data_dir: Path) -> list[Example]:
    # Evaluation only: harmful chat requests without category labels.
    out = []
    with (data_dir / "advbench" / "advbench_behaviors.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            ex = _example(row["Behavior"], set(), set(), "advbench", split="eval")
            ex.stratum = "unsafe"
            out.append(ex)
    return out


def load_examples(data_dir: Path = DATA_DIR) -> list[Example]:
    """All examples, de-duplicated on normalised text (the first source listed wins), with splits assigned."""
    loaders = (_hallmark, _openai_moderation, _i2p, _harmbench, _strongreject, _coco, _vbench, _parti,
               _xstest, _advbench)
    seen: set[str] = set()
    examples: list[Example] = []
    for loader in loaders:
        for ex in loader(data_dir):
            key = " ".join(ex.text.casefold().split())
            if not key or key in seen:
                continue
            seen.add(key)
            examples.append(ex)
    assign_splits(examples)
    return examples


def assign_splits(examples: list[Example], *, seed: int = SPLIT_SEED, dev: float = 0.15, test: float = 0.15) -> None:
    """Stratified split per (source, stratum): the same data and seed always give the same split."""
    rng = np.random.default_rng(seed)
    groups: dict[tuple[str, str], list[Example]] = {}
    for ex in examples:
        if ex.split == "eval":
            continue
        groups.setdefault((ex.source, ex.stratum), []).append(ex)
    for key in sorted(groups):
        members = groups[key]
        order = rng.permutation(len(members))
        n_test = int(round(test * len(members)))
        n_dev = int(round(dev * len(members)))
        for rank, idx in enumerate(order):
            members[idx].split = "test" if rank < n_test else "dev" if rank < n_test + n_dev else "train"
