"""A video request as the client wrote it (text fields, an optional reference image) and its validation into what a
job runs: the same rules for ``POST /v1/videos`` and ``hallmark generate``."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from generator import MAX_SECONDS as GEN_MAX_SECONDS
from generator import MIN_SECONDS as GEN_MIN_SECONDS
from generator import SUPPORTED_SIZES

from ..core.errors import InvalidRequest

_SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")
MIN_SECONDS, MAX_SECONDS = int(GEN_MIN_SECONDS), int(GEN_MAX_SECONDS)


@dataclass(frozen=True)
class VideoForm:
    """The request's fields as sent (None: not sent)."""

    prompt: str | None
    model: str | None = None
    seconds: str | None = None
    size: str | None = None
    seed: str | None = None
    input_reference: bytes | None = None


@dataclass(frozen=True)
class VideoSpec:
    """A validated request."""

    prompt: str
    seconds: int
    size: tuple[int, int]
    seed: int


@dataclass(frozen=True)
class RequestDefaults:
    max_prompt_chars: int
    seconds: int
    size: str


def parse_seconds(raw: str | None, default: int) -> int:
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidRequest(f"'seconds' must be a whole number of seconds, got {raw[:40]!r}.", param="seconds")
    if value != int(value) or not MIN_SECONDS <= value <= MAX_SECONDS:
        raise InvalidRequest(f"'seconds' must be a whole number from {MIN_SECONDS} to {MAX_SECONDS}, got {raw!r}.",
                             param="seconds")
    return int(value)


def parse_size(raw: str | None, default: str) -> tuple[int, int]:
    text = (raw or default).strip()
    match = _SIZE.match(text)
    if not match:
        raise InvalidRequest(f"'size' must look like WIDTHxHEIGHT (e.g. '256x256'), got {text[:40]!r}.", param="size")
    size = (int(match.group(1)), int(match.group(2)))
    problem = SUPPORTED_SIZES.problem(size)
    if problem:
        raise InvalidRequest(f"Unsupported size {text!r}: {problem}.", param="size")
    return size


def parse_prompt(raw: str | None, max_chars: int) -> str:
    prompt = (raw or "").strip()
    if not prompt:
        raise InvalidRequest("'prompt' is required and must not be empty.", param="prompt",
                             code="missing_required_parameter" if raw is None else "invalid_value")
    if len(prompt) > max_chars:
        raise InvalidRequest(f"'prompt' is {len(prompt)} characters; the limit is {max_chars}.", param="prompt",
                             code="string_above_max_length")
    return prompt


def parse_seed(raw: str | None) -> int:
    try:
        return int(raw) if raw not in (None, "") else secrets.randbelow(2**31)
    except ValueError:
        raise InvalidRequest("'seed' must be an integer.", param="seed")


def parse_video_form(form: VideoForm, defaults: RequestDefaults) -> VideoSpec:
    return VideoSpec(prompt=parse_prompt(form.prompt, defaults.max_prompt_chars),
                     seconds=parse_seconds(form.seconds, defaults.seconds),
                     size=parse_size(form.size, defaults.size),
                     seed=parse_seed(form.seed))
