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
MAX_SEED = 2**63 - 1


@dataclass(frozen=True)
class VideoForm:
    """The request's fields as sent (None: not sent)."""

    prompt: str | None
    model: str | None = None
    seconds: str | None = None
    size: str | None = None
    seed: str | None = None
    input_reference: bytes | None = None
    characters: str | None = None  # ids of registered characters the video uses, comma-separated


@dataclass(frozen=True)
class SourceForm:
    """A remix, edit or extend request's fields as sent: the source is an uploaded file or the id of one of the
    tenant's videos (exactly one of the two)."""

    prompt: str | None
    video: bytes | None = None
    video_id: str | None = None
    seconds: str | None = None  # extend: the new segment's length
    model: str | None = None
    seed: str | None = None  # Hallmark: sampling seed (OpenAI's calls take none; random when absent)


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
    # The range test comes first: it is false for NaN and the infinities, which int() cannot take.
    if not MIN_SECONDS <= value <= MAX_SECONDS or value != int(value):
        raise InvalidRequest(f"'seconds' must be a whole number from {MIN_SECONDS} to {MAX_SECONDS}, "
                             f"got {raw[:40]!r}.", param="seconds")
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
    if raw is None or raw.strip() == "":
        return secrets.randbelow(2**31)
    try:
        seed = int(raw)
    except ValueError:  # also a string of more digits than Python converts
        seed = None
    # The seed is stored in a signed 64-bit column.
    if seed is None or not 0 <= seed <= MAX_SEED:
        raise InvalidRequest(f"'seed' must be an integer from 0 to {MAX_SEED}, got {raw[:40]!r}.", param="seed")
    return seed


def parse_video_form(form: VideoForm, defaults: RequestDefaults, *, default_size: str | None = None) -> VideoSpec:
    """``default_size``: the size when the form names none, if not the gateway's own default."""
    return VideoSpec(prompt=parse_prompt(form.prompt, defaults.max_prompt_chars),
                     seconds=parse_seconds(form.seconds, defaults.seconds),
                     size=parse_size(form.size, default_size or defaults.size),
                     seed=parse_seed(form.seed))
