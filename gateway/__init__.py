"""Hallmark gateway: the service that composes policy, generation, watermarking, signing and audit."""

import os

# The watermark's synchronisation search runs many small numpy FFTs/matmuls: multi-threaded BLAS only adds
# contention with the torch worker on a busy CPU (measured: several times slower). An operator's setting wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
