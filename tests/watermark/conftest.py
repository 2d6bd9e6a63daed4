"""Makes the repository root importable (and keeps BLAS to one thread), so the tests can use the bench's attacks and clips (bench.watermark).

The project runs pytest with --import-mode=importlib, which puts no directory on sys.path.
"""

import os
import pathlib
import sys

# One BLAS thread: the watermark's small matrix products only lose to thread start-up, and this
# machine is shared (takes effect only if numpy is not imported yet).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

_ROOT = str(pathlib.Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)
