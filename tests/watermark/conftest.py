"""Makes the repository root importable, so the tests can use the bench's attacks and clips (bench.watermark).

The project runs pytest with --import-mode=importlib, which puts no directory on sys.path.
"""

import pathlib
import sys

_ROOT = str(pathlib.Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)
