"""Copies the public prompt data that training reads from the shared data pool into ``classifiers/data/``.

Run once by a maintainer (``python -m training.classifier.copy_data --source ../shared/data/policy``); the output is committed,
so training never reads outside the project. Columns nobody reads are dropped and COCO is sampled (seeded) to keep the
copy small; every source keeps its SOURCES.md and licence file, and COPY_MANIFEST.json records what was done.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import random
import shutil
from pathlib import Path

from classifiers.data import DATA_DIR

COCO_SAMPLE_SIZE = 3000
COCO_SAMPLE_SEED = 0


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


def _keep_columns(src: Path, dst: Path, columns: list[str]) -> int:
    with src.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    _write_csv(dst, columns, [[row[c] for c in columns] for row in rows])
    return len(rows)


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def copy_all(source: Path, dest: Path = DATA_DIR) -> list[dict]:
    manifest: list[dict] = []

    def record(folder: str, src_name: str, dst_name: str, how: str, rows: int | None = None) -> None:
        manifest.append(
            {"source": f"{folder}/{src_name}", "sha256_source": _sha256(source / folder / src_name),
             "copy": f"{folder}/{dst_name}", "sha256_copy": _sha256(dest / folder / dst_name),
             "transformation": how, "rows": rows}
        )

    def verbatim(folder: str, *names: str) -> None:
        for name in names:
            _copy(source / folder / name, dest / folder / name)
            record(folder, name, name, "verbatim")

    (dest / "i2p").mkdir(parents=True, exist_ok=True)
    verbatim("i2p", "SOURCES.md", "LICENSE.repo-erasing")
    n = _keep_columns(
        source / "i2p" / "unsafe-prompts4703.csv", dest / "i2p" / "i2p_prompts.csv",
        ["prompt", "categories", "inappropriate_percentage", "nudity_percentage"],
    )
    record("i2p", "unsafe-prompts4703.csv", "i2p_prompts.csv",
           "kept columns prompt, categories, inappropriate_percentage, nudity_percentage", n)

    verbatim("openai-moderation", "SOURCES.md", "LICENSE", "samples-1680.jsonl.gz")

    (dest / "harmbench").mkdir(parents=True, exist_ok=True)
    verbatim("harmbench", "SOURCES.md")
    n = _keep_columns(
        source / "harmbench" / "harmbench_behaviors_text_all.csv", dest / "harmbench" / "harmbench_behaviors.csv",
        ["Behavior", "FunctionalCategory", "SemanticCategory", "BehaviorID"],
    )
    record("harmbench", "harmbench_behaviors_text_all.csv", "harmbench_behaviors.csv",
           "kept columns Behavior, FunctionalCategory, SemanticCategory, BehaviorID (dropped ContextString)", n)

    verbatim("strongreject", "SOURCES.md", "strongreject_dataset.csv")
    (dest / "advbench").mkdir(parents=True, exist_ok=True)
    verbatim("advbench", "SOURCES.md")
    n = _keep_columns(source / "advbench" / "advbench_behaviors.csv", dest / "advbench" / "advbench_behaviors.csv",
                      ["Behavior", "BehaviorID"])
    record("advbench", "advbench_behaviors.csv", "advbench_behaviors.csv", "kept columns Behavior, BehaviorID", n)

    (dest / "coco30k").mkdir(parents=True, exist_ok=True)
    verbatim("coco30k", "SOURCES.md")
    with (source / "coco30k" / "coco_30k.csv").open(newline="", encoding="utf-8") as fh:
        coco = list(csv.DictReader(fh))
    picked = sorted(random.Random(COCO_SAMPLE_SEED).sample(range(len(coco)), COCO_SAMPLE_SIZE))
    _write_csv(dest / "coco30k" / "coco_3k.csv", ["image_id", "prompt"],
               [[coco[i]["image_id"], coco[i]["prompt"]] for i in picked])
    record("coco30k", "coco_30k.csv", "coco_3k.csv",
           f"random.Random({COCO_SAMPLE_SEED}).sample of {COCO_SAMPLE_SIZE} rows, columns image_id, prompt",
           COCO_SAMPLE_SIZE)

    verbatim("partiprompts", "SOURCES.md", "LICENSE", "PartiPrompts.tsv")
    verbatim("vbench", "SOURCES.md", "LICENSE", "prompts/all_dimension.txt", "prompts/all_category.txt")
    verbatim("xstest", "SOURCES.md", "LICENSE", "xstest_prompts.csv")

    (dest / "COPY_MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[3] / "shared/data/policy")
    parser.add_argument("--dest", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    manifest = copy_all(args.source, args.dest)
    total = sum((args.dest / m["copy"]).stat().st_size for m in manifest)
    print(f"copied {len(manifest)} files, {total / 1e6:.2f} MB, into {args.dest}")


if __name__ == "__main__":
    main()
