"""Makes the watermark test helpers (wm_content, wm_attacks) importable by name.

The project runs pytest with --import-mode=importlib, which puts no test directory on
sys.path; the helpers are plain modules shared by the tests and bench_watermark.py.
"""

import pathlib
import sys

_HERE = str(pathlib.Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.append(_HERE)
