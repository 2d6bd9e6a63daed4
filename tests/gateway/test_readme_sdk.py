"""The README's OpenAI SDK example type-checks against the installed SDK (``mypy``): a stranded Sora client copying
it gets no type error from the Hallmark-only parts (they go through ``extra_body``)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def sdk_example() -> str:
    section = README.read_text().split("## An OpenAI SDK session", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README's SDK section has no python block"
    return match.group(1)


def test_readme_sdk_example_passes_mypy(tmp_path):
    example = tmp_path / "sdk_example.py"
    example.write_text(sdk_example())
    result = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                             "--cache-dir", str(tmp_path / "cache"), str(example)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_would_catch_a_wrong_call(tmp_path):
    # The check can fail: the same example with a misspelt argument is rejected.
    broken = tmp_path / "broken.py"
    broken.write_text(sdk_example().replace("prompt=", "promt=", 1))
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", str(tmp_path / "c"),
                             str(broken)], capture_output=True, text=True, timeout=600)
    assert result.returncode != 0 and "promt" in result.stdout
