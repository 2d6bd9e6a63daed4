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
VISIBLE_TEXT = "AI-generated"
VISIBLE_SECONDS = 2.0
MIN_GLYPH_FRACTION = 0.05  # GB 45438 §5.4: glyph height ≥ 5% of the shorter side


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


def draw_visible_label(frames: np.ndarray, fps: float, *, text: str = VISIBLE_TEXT,
                       seconds: float = VISIBLE_SECONDS) -> np.ndarray:
    """Draw ``text`` in the bottom-left corner of the opening ``seconds`` (the whole clip if shorter)."""
    out = frames.copy()
    height, width = frames.shape[1:3]
    font = cv2.FONT_HERSHEY_DUPLEX
    (_, cap_height), _ = cv2.getTextSize("A", font, 1.0, 1)
    # getTextSize reports a taller box than the drawn capitals (~0.75 of it): aim 15% above the 5% floor.
    glyph = max(MIN_GLYPH_FRACTION * 1.15 / 0.75 * min(height, width), 9.0)
    scale = glyph / cap_height
    thickness = max(1, round(scale * 1.6))
    (text_w, text_h), baseline = cv2.getTextSize(text, font, scale, thickness)
    margin = max(3, round(0.02 * min(height, width)))
    if text_w + 2 * margin > width:  # very narrow frames: shrink to fit, never below the 5% floor
        scale *= (width - 2 * margin) / text_w
        (text_w, text_h), baseline = cv2.getTextSize(text, font, scale, thickness)
    origin = (margin, height - margin - baseline)
    count = min(frames.shape[0], max(1, int(np.ceil(seconds * fps))))
    for index in range(count):
        frame = np.ascontiguousarray(out[index])
        # A dark box under white glyphs keeps the label legible on any background.
        cv2.rectangle(frame, (origin[0] - margin // 2, origin[1] - text_h - margin // 2),
                      (origin[0] + text_w + margin // 2, origin[1] + baseline + margin // 2), (0, 0, 0), cv2.FILLED)
        cv2.putText(frame, text, origin, font, scale, (255, 255, 255), thickness, cv2.LINE_AA)
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
