"""Named, reloadable policy packs (one per tenant or service). A reload that fails validation leaves the previous
pack active and says why; nothing needs a restart."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

from .decision import Decision
from .engine import PolicyEngine
from .pack import SHIPPED_PACKS, PolicyError, PolicyPack, load_pack

__all__ = ["PolicyRegistry"]


class PolicyRegistry:
    """Holds the active pack (and its engine) under each name; thread-safe.

    ``sources`` maps a name to what :func:`load_pack` accepts (a shipped pack name or a YAML path); by default the
    shipped packs are registered under their own names. Construction fails with :class:`PolicyError` if any source
    is invalid: there is no previous pack to fall back to yet.
    """

    def __init__(self, sources: Mapping[str, str | Path] | None = None) -> None:
        self._lock = threading.RLock()
        self._sources: dict[str, str | Path] = {}
        self._engines: dict[str, PolicyEngine] = {}
        initial = dict(sources) if sources is not None else {name: name for name in SHIPPED_PACKS}
        for name, source in initial.items():
            self.register(name, source)

    def register(self, name: str, source: str | Path) -> PolicyPack:
        """Load ``source`` and make it the active pack for ``name``. On failure nothing changes and
        :class:`PolicyError` is raised."""
        engine = _engine_for(source)
        with self._lock:
            self._sources[name] = source
            self._engines[name] = engine
        return engine.pack

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._engines)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._engines

    def get(self, name: str) -> PolicyPack:
        return self.engine(name).pack

    def engine(self, name: str) -> PolicyEngine:
        with self._lock:
            try:
                return self._engines[name]
            except KeyError:
                raise KeyError(f"no policy pack registered as {name!r} (registered: {', '.join(sorted(self._engines))})"
                               ) from None

    def evaluate(self, name: str, *, text: str, scores: Mapping[str, float]) -> Decision:
        return self.engine(name).evaluate(text=text, scores=scores)

    def reload(self, name: str | None = None) -> dict[str, PolicyPack]:
        """Re-read the file(s) behind one name (or all). Packs that load are swapped in; any that fail keep their
        previous version active, and a :class:`PolicyError` listing the failures is raised after the others
        were applied. Returns the active packs of the names reloaded."""
        with self._lock:
            names = [name] if name is not None else sorted(self._sources)
            if name is not None and name not in self._sources:
                raise KeyError(f"no policy pack registered as {name!r}")
            sources = {n: self._sources[n] for n in names}
        failures: list[str] = []
        errors: list[str] = []
        for n, source in sources.items():
            try:
                engine = _engine_for(source)
            except PolicyError as exc:
                with self._lock:
                    kept = self._engines[n].pack.ref
                failures.append(f"{n}: reload failed, {kept} stays active: {exc}")
                errors.extend(exc.errors)
                continue
            with self._lock:
                self._engines[n] = engine
        if failures:
            raise PolicyError("\n".join(failures), errors)
        with self._lock:
            return {n: self._engines[n].pack for n in names}


def _engine_for(source: str | Path) -> PolicyEngine:
    return PolicyEngine(load_pack(source))
