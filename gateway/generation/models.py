"""Which model names a request may use: the served model's own name and the aliases an operator configured
(``HALLMARK_MODEL_ALIASES``), so code written for OpenAI's ``sora-2`` runs here unchanged. The response and the
manifest always name the model that ran, never the alias."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import InvalidRequest
from ..core.settings import ModelAlias

# What OpenAI's video API made when a request named no size: its code expects this shape back.
OPENAI_DEFAULT_SIZE = "720x1280"
OPENAI_SIZES = ("720x1280", "1280x720", "1024x1792", "1792x1024")


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # the model that runs
    alias: str | None  # what the request said, when it was an alias

    @property
    def openai_name(self) -> bool:
        """The request named an OpenAI model: it gets OpenAI's defaults (size) where it sent none."""
        return self.alias is not None and self.alias.startswith("sora-")


class ModelCatalog:
    def __init__(self, aliases: list[ModelAlias]) -> None:
        self.aliases = aliases

    def resolve(self, requested: str | None, served: str) -> ResolvedModel:
        name = (requested or "").strip()
        if not name or name == served:
            return ResolvedModel(name=served, alias=None)
        for alias in self.aliases:
            if alias.matches(name):
                target = alias.target or served
                if target != served:
                    raise InvalidRequest(f"Model {name!r} is an alias of {target!r}, which this gateway does not "
                                         f"serve; it serves {served!r}.", param="model", code="model_not_found")
                return ResolvedModel(name=served, alias=name)
        names = ", ".join([served, *(a.pattern for a in self.aliases)])
        raise InvalidRequest(f"Unknown model {name!r}; this gateway serves: {names}.", param="model",
                             code="model_not_found")

    def listed(self, served: str) -> list[tuple[str, str]]:
        """(alias pattern, model it runs) for each alias that reaches the served model."""
        return [(a.pattern, a.target or served) for a in self.aliases if (a.target or served) == served]
