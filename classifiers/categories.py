"""The category taxonomy every Hallmark classifier scores: OpenAI moderation's 13 plus three that video adds."""

from __future__ import annotations

__all__ = ["CATEGORIES", "MODERATION_CATEGORIES", "PARENT"]

# OpenAI moderation categories, in the order its API lists them.
MODERATION_CATEGORIES: tuple[str, ...] = (
    "sexual",
    "sexual/minors",
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "violence",
    "violence/graphic",
)

# real_person: an identifiable real person (public figure or named individual) depicted or impersonated;
# ip: copyrighted characters, trademarks, or imitation of a named living artist's style;
# deception: fabricated footage presented as real (news, elections, disasters, fake evidence).
CATEGORIES: tuple[str, ...] = MODERATION_CATEGORIES + ("real_person", "ip", "deception")

# A sub-category implies its parent (a "sexual/minors" prompt is also "sexual"); training labels follow this.
PARENT: dict[str, str] = {
    "sexual/minors": "sexual",
    "harassment/threatening": "harassment",
    "hate/threatening": "hate",
    "illicit/violent": "illicit",
    "self-harm/intent": "self-harm",
    "self-harm/instructions": "self-harm",
    "violence/graphic": "violence",
}
