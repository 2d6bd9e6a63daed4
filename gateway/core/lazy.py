"""A value built on first use, once, even when two threads ask at the same moment (the warm-up thread and a request
both reaching for a model)."""

from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class Lazy(Generic[T]):
    def __init__(self, factory: Callable[[], T], *, lock: threading.RLock | None = None) -> None:
        """``lock``: share one between values whose factories must not run at the same time (model loaders:
        transformers' lazy module is not safe to import from two threads)."""
        self._factory = factory
        self._lock = lock or threading.RLock()
        self._value: T | None = None
        self._loaded = False

    def get(self) -> T:
        if not self._loaded:
            with self._lock:
                if not self._loaded:
                    self._value = self._factory()
                    self._loaded = True
        return self._value  # type: ignore[return-value]
