from __future__ import annotations

import pytest
import yaml

from policies import CATEGORIES


def pack_data(**overrides) -> dict:
    data = {
        "id": "test-pack",
        "version": "1.0.0",
        "thresholds": {c: {"review": 0.5, "block": 0.8} for c in CATEGORIES},
        "allow_list": ["kill the process"],
        "deny_list": ["forbidden phrase", "禁止词"],
        "labels": ["c2pa", "watermark"],
    }
    data.update(overrides)
    return data


@pytest.fixture
def write_pack(tmp_path):
    def write(data, name: str = "pack.yaml"):
        path = tmp_path / name
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True),
                        encoding="utf-8")
        return path

    return write


def scores(**values: float) -> dict[str, float]:
    out = {c: 0.01 for c in CATEGORIES}
    for key, value in values.items():
        out[key.replace("__", "/").replace("_minus_", "-")] = value
    return out
