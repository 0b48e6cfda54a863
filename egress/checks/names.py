"""Person names without a language model: what a Korean or Latin full name looks like."""

from __future__ import annotations

import re

LATIN_FULL_NAME = re.compile(r"^[A-Z][a-z]+(?: [A-Z]\.?)?(?: [A-Z][a-z]+){1,2}$")


def is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"


def is_korean_full_name(value: str, surnames: set[str]) -> bool:
    """A known surname syllable followed by one or two Hangul syllables (홍길동, 이순)."""
    value = value.strip()
    return 2 <= len(value) <= 3 and value[0] in surnames and all(is_hangul(ch) for ch in value)
