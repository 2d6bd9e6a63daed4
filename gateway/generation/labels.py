"""Regulatory labels: GB 45438-2025 explicit (visible) and implicit (AIGC metadata) labels, SB 942 latent disclosure.

Which labels a video gets is the policy pack's choice (``labels`` in the YAML): ``visible_label`` draws
the explicit label into the frames, ``aigc_metadata`` writes the implicit label into the MP4 container
and the C2PA manifest. The SB 942 latent disclosure always rides in the signed manifest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import cv2
import numpy as np

AIGC_METADATA_KEY = "AIGC"
AIGC_ASSERTION_LABEL = "com.hallmark.aigc"
SB942_ASSERTION_LABEL = "com.hallmark.sb942.latent-disclosure"
VISIBLE_TEXTS = {"en": "AI-generated", "zh": "AI生成"}  # GB 45438 accepts either
VISIBLE_SECONDS = 2.0
MIN_GLYPH_FRACTION = 0.05  # GB 45438 §5.4: glyph height ≥ 5% of the shorter side

# The two Chinese characters of "AI生成", drawn as strokes (no font with CJK glyphs ships here). Each glyph is a list
# of polylines in a unit em box (x right, y down), designed for this label: 生 (sheng) and 成 (cheng).
_CJK_STROKES: dict[str, list[list[tuple[float, float]]]] = {
    "生": [
        [(0.30, 0.06), (0.24, 0.24), (0.12, 0.42)],  # the short left-falling stroke
        [(0.24, 0.30), (0.84, 0.30)],  # upper horizontal
        [(0.14, 0.58), (0.86, 0.58)],  # middle horizontal
        [(0.50, 0.06), (0.50, 0.90)],  # the vertical
        [(0.06, 0.90), (0.94, 0.90)],  # the long bottom horizontal
    ],
    "成": [
        [(0.16, 0.30), (0.90, 0.30)],  # the horizontal
        [(0.20, 0.30), (0.20, 0.62), (0.14, 0.82), (0.06, 0.94)],  # left-falling stroke down the left side
        [(0.22, 0.54), (0.44, 0.54), (0.42, 0.80), (0.34, 0.76)],  # inner turn with a hook
        [(0.52, 0.06), (0.56, 0.36), (0.68, 0.62), (0.82, 0.82), (0.94, 0.92), (0.95, 0.72)],  # slanting hook
        [(0.82, 0.48), (0.66, 0.70), (0.46, 0.90)],  # the crossing left-falling stroke
        [(0.70, 0.08), (0.80, 0.18)],  # the dot
    ],
}


def _ascii(value: str) -> str:
    """Printable ASCII only, as the standard asks; anything else is replaced."""
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in value)


@dataclass(frozen=True)
class Disclosure:
    provider: str  # who runs the gateway (the organisation)
    system_name: str  # the model
    system_version: str
    created_at: datetime
    content_id: str  # 16 hex digits: also the watermark payload
    software: str  # e.g. "Hallmark 0.1.0"

    def aigc(self) -> dict:
        """The implicit label: one JSON object under the key ``AIGC``."""
        return {"AIGC": {
            "Label": "1",
            "ContentProducer": _ascii(self.provider),
            "ProduceID": _ascii(self.content_id),
            "ReservedCode1": _ascii(f"{self.software}; model {self.system_name} {self.system_version}"),
            "ContentPropagator": "",
            "PropagateID": "",
            "ReservedCode2": "",
        }}

    def aigc_metadata(self) -> dict[str, str]:
        return {AIGC_METADATA_KEY: json.dumps(self.aigc(), separators=(",", ":"), ensure_ascii=True)}

    def sb942(self) -> dict:
        """SB 942 latent disclosure: provider, system name and version, creation time, unique identifier."""
        return {"provider": self.provider, "system_name": self.system_name, "system_version": self.system_version,
                "created_at": self.created_at.isoformat(), "content_id": self.content_id}

    def manifest_assertions(self, *, include_aigc: bool) -> list[dict]:
        assertions = [{"label": SB942_ASSERTION_LABEL, "data": self.sb942()}]
        if include_aigc:
            assertions.append({"label": AIGC_ASSERTION_LABEL, "data": self.aigc()})
        return assertions


def _cjk_width(char_height: float) -> int:
    return int(round(char_height * 1.08))


def _draw_cjk(frame: np.ndarray, char: str, left: int, bottom: int, size: float, thickness: int) -> None:
    """One stroke-drawn CJK glyph in a size x size box whose bottom-left corner is (left, bottom)."""
    top = bottom - size
    for stroke in _CJK_STROKES[char]:
        points = np.array([[left + x * size, top + y * size] for x, y in stroke], dtype=np.float64)
        # sub-pixel precision (shift 4) keeps small glyphs even
        cv2.polylines(frame, [np.round(points * 16).astype(np.int32)], False, (255, 255, 255), thickness,
                      cv2.LINE_AA, shift=4)


def draw_visible_label(frames: np.ndarray, fps: float, *, text: str | None = None, language: str = "en",
                       seconds: float = VISIBLE_SECONDS) -> np.ndarray:
    """Draw the label ("AI-generated"; "AI生成" with ``language="zh"``, or ``text``) in the bottom-left corner of the
    opening ``seconds`` (the whole clip if shorter)."""
    if text is None:
        if language not in VISIBLE_TEXTS:
            raise ValueError(f"language must be one of {sorted(VISIBLE_TEXTS)}, got {language!r}")
        text = VISIBLE_TEXTS[language]
    latin = "".join(ch for ch in text if ch not in _CJK_STROKES)
    cjk = [ch for ch in text if ch in _CJK_STROKES]
    if any(ord(ch) > 126 for ch in latin):
        raise ValueError(f"no glyphs for {text!r}: Latin text, or 生 and 成")
    out = frames.copy()
    height, width = frames.shape[1:3]
    font = cv2.FONT_HERSHEY_DUPLEX
    (_, cap_height), _ = cv2.getTextSize("A", font, 1.0, 1)
    # getTextSize reports a taller box than the drawn capitals (~0.75 of it): aim 15% above the 5% floor.
    glyph = max(MIN_GLYPH_FRACTION * 1.15 / 0.75 * min(height, width), 9.0)
    scale = glyph / cap_height
    thickness = max(1, round(scale * 1.6))
    margin = max(3, round(0.02 * min(height, width)))

    def measure(scale: float) -> tuple[int, int, int, float]:
        (latin_w, text_h), baseline = cv2.getTextSize(latin, font, scale, thickness) if latin else ((0, 0), 0)
        cjk_size = 1.2 * 0.75 * scale * cap_height  # CJK glyphs stand ~1.2x the drawn capitals
        gap = int(round(0.15 * cjk_size)) if latin and cjk else 0
        total_w = latin_w + gap + len(cjk) * _cjk_width(cjk_size)
        return total_w, max(text_h, int(np.ceil(cjk_size))), baseline, cjk_size

    text_w, text_h, baseline, cjk_size = measure(scale)
    if text_w + 2 * margin > width:  # very narrow frames: shrink to fit, never below the 5% floor
        scale *= (width - 2 * margin) / text_w
        text_w, text_h, baseline, cjk_size = measure(scale)
    origin = (margin, height - margin - baseline)
    cjk_thickness = max(1, round(cjk_size / 9))
    count = min(frames.shape[0], max(1, int(np.ceil(seconds * fps))))
    for index in range(count):
        frame = np.ascontiguousarray(out[index])
        # A dark box under white glyphs keeps the label legible on any background.
        cv2.rectangle(frame, (origin[0] - margin // 2, origin[1] - text_h - margin // 2),
                      (origin[0] + text_w + margin // 2, origin[1] + baseline + margin // 2), (0, 0, 0), cv2.FILLED)
        x = origin[0]
        if latin:
            cv2.putText(frame, latin, origin, font, scale, (255, 255, 255), thickness, cv2.LINE_AA)
            x += cv2.getTextSize(latin, font, scale, thickness)[0][0] + int(round(0.15 * cjk_size))
        for char in cjk:
            _draw_cjk(frame, char, x, origin[1], cjk_size, cjk_thickness)
            x += _cjk_width(cjk_size)
        out[index] = frame
    return out


def glyph_height(frame: np.ndarray) -> int:
    """Measured cap height in pixels of the label's first letter ("A"): for tests and audits of the label."""
    white = np.all(frame >= 200, axis=-1)
    columns = np.where(white.any(axis=0))[0]
    if columns.size == 0:
        return 0
    first = [columns[0]]
    for col in columns[1:]:
        if col != first[-1] + 1:
            break
        first.append(col)
    rows = np.where(white[:, first[0]: first[-1] + 1].any(axis=1))[0]
    return int(rows.max() - rows.min() + 1)
