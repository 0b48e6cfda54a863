"""Presidio recognizers for Korean personal information that run with no language model.

Presidio's own context enhancer reads context words from spaCy tokens, which the no-op NLP
engine does not produce; `WindowContext` instead looks for the recognizer's context words in
the characters before a match, so context-only entities (passport, driver's licence, health
insurance numbers) still need their context word, offline.
"""

from __future__ import annotations

import re
from typing import Optional

import phonenumbers
from presidio_analyzer import EntityRecognizer, LocalRecognizer, Pattern, PatternRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers.country_specific.korea.kr_driver_license_recognizer import KrDriverLicenseRecognizer
from presidio_analyzer.predefined_recognizers.country_specific.korea.kr_frn_recognizer import KrFrnRecognizer
from presidio_analyzer.predefined_recognizers.country_specific.korea.kr_passport_recognizer import KrPassportRecognizer
from presidio_analyzer.predefined_recognizers.country_specific.korea.kr_rrn_recognizer import KrRrnRecognizer

from .names import is_hangul, is_korean_full_name

LANGUAGE = "ko"
# Flags every recognizer is run with (ours and the benchmark's plain Presidio alike): case matters
# for names, and IGNORECASE makes the `regex` module several times slower.
REGEX_FLAGS = re.MULTILINE

# A birth date YYMMDD: what the RRN and FRN patterns start with.
_YYMMDD = r"\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
# Not part of a longer number or a decimal: "0.8503121234567" is a number, not an RRN.
_NUM_START = r"(?<![\d.])"
_NUM_END = r"(?!\d|\.\d)"
SCORE_BOOST = 0.35
MIN_SCORE_WITH_CONTEXT = 0.4


class WindowContext:
    """Mixin: raise a result's score when a context word appears shortly before it."""

    context_window = 40

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):  # noqa: D401
        results = super().analyze(text, entities, nlp_artifacts, regex_flags)
        words = [w.lower() for w in (self.context or [])]
        for result in results:
            before = text[max(0, result.start - self.context_window):result.start].lower()
            word = next((w for w in words if w in before), None)
            if word:
                result.score = min(1.0, max(result.score + SCORE_BOOST, MIN_SCORE_WITH_CONTEXT))
                result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
                result.analysis_explanation.set_supportive_context_word(word)
            else:
                # Presidio's enhancer must not boost it later from `context=` either
                result.recognition_metadata[RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY] = True
        return results


class RrnRecognizer(WindowContext, KrRrnRecognizer):
    """Resident registration numbers. A failed checksum keeps the hit: since October 2020 the
    last six digits are random, so a valid number need not pass the old checksum."""

    PATTERNS = [Pattern("RRN", _NUM_START + _YYMMDD + r"-?[1-4]\d{6}" + _NUM_END, 0.5)]
    CONTEXT = KrRrnRecognizer.CONTEXT + ["주민등록번호", "주민번호", "주민"]

    def __init__(self):
        super().__init__(patterns=self.PATTERNS, context=self.CONTEXT, supported_language=LANGUAGE)


class MaskedRrnRecognizer(WindowContext, PatternRecognizer):
    """Masked RRN/FRN forms such as `850312-1******`: birth date and sex are still disclosed."""

    def __init__(self):
        super().__init__(
            supported_entity="KR_RRN_MASKED",
            patterns=[Pattern("RRN masked", _NUM_START + _YYMMDD + r"-(?:[1-8]|[*xX●○#])[*xX●○#]{6}", 0.6)],
            context=["주민등록번호", "주민번호", "RRN"],
            supported_language=LANGUAGE,
        )


class FrnRecognizer(WindowContext, KrFrnRecognizer):
    """Foreigner registration numbers (sex/century digit 5–8)."""

    PATTERNS = [Pattern("FRN", _NUM_START + _YYMMDD + r"-?[5-8]\d{6}" + _NUM_END, 0.5)]

    def __init__(self):
        super().__init__(patterns=self.PATTERNS, supported_language=LANGUAGE)


class PassportRecognizer(WindowContext, KrPassportRecognizer):
    """Korean passport numbers: too weak alone, reported only with a context word."""

    CONTEXT = KrPassportRecognizer.CONTEXT + ["여권번호"]

    def __init__(self):
        super().__init__(context=self.CONTEXT, supported_language=LANGUAGE)


class DriverLicenseRecognizer(WindowContext, KrDriverLicenseRecognizer):
    """Korean driver's licence numbers: reported only with a context word."""

    CONTEXT = KrDriverLicenseRecognizer.CONTEXT + ["driver license", "driver's license", "driving licence", "licence no", "license no"]

    def __init__(self):
        super().__init__(context=self.CONTEXT, supported_language=LANGUAGE)

    def validate_result(self, pattern_text: str) -> Optional[bool]:
        # A valid region code must not lift the score to certain: 12-digit timestamps such as
        # 202403151230 have one too. Only a context word may make this a finding.
        return None if super().validate_result(pattern_text) else False


class HealthInsuranceRecognizer(WindowContext, PatternRecognizer):
    """National Health Insurance card numbers (11 digits, often written 1-2345678901): context only."""

    def __init__(self):
        super().__init__(
            supported_entity="KR_HEALTH_INSURANCE",
            patterns=[Pattern("NHI number", r"(?<![\w.])\d{1,2}-?\d{9,10}(?![\w]|\.\d)", 0.05)],
            context=["건강보험", "보험증", "건보", "보험번호", "health insurance", "insurance no", "insurance number", "nhi"],
            supported_language=LANGUAGE,
        )

    def validate_result(self, pattern_text: str) -> Optional[bool]:
        digits = pattern_text.replace("-", "")
        return None if len(digits) == 11 else False


class PhoneRecognizer(PatternRecognizer):
    """Korean phone numbers: a cheap pattern proposes, `phonenumbers` decides.

    Each candidate is parsed alone, so `phonenumbers` never sees more than a short chunk.
    """

    def __init__(self):
        super().__init__(
            supported_entity="KR_PHONE",
            patterns=[Pattern("KR phone", _NUM_START + r"(?:\+82[- ]?(?:0)?|0)(?:1[016789]|2|[3-6][1-5]|70)[- .)]?\d{3,4}[- .]?\d{4}" + _NUM_END, 0.3)],
            context=[],
            supported_language=LANGUAGE,
        )

    def validate_result(self, pattern_text: str) -> Optional[bool]:
        try:
            number = phonenumbers.parse(pattern_text, "KR")
        except phonenumbers.NumberParseException:
            return False
        return bool(phonenumbers.is_valid_number(number))


class EmailRecognizer(PatternRecognizer):
    """E-mail addresses. Presidio's own e-mail recognizer asks tldextract, which may try to fetch
    the public-suffix list over the network; a closed enclave must not, so the pattern decides."""

    def __init__(self):
        super().__init__(
            supported_entity="EMAIL_ADDRESS",
            patterns=[Pattern("email", r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}(?![\w-])", 0.9)],
            context=[],
            supported_language=LANGUAGE,
        )


class LabelledNameRecognizer(LocalRecognizer):
    """Person names written after a label (성명: 홍길동, Patient: John Smith), without a model.

    Korean names must start with a known surname syllable; Latin names need two capitalised
    words, which keeps pandas footers such as `Name: count, dtype: int64` out.
    """

    def __init__(self, labels: list[str], surnames: list[str]):
        self.labels = labels
        self.surnames = set(surnames)
        label_re = "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True))
        self._regex = re.compile(
            r"(?:^|(?<=[\s\"'{(\[,|>]))(?i:" + label_re + r")\s*[:=：]\s*[\"']?"
            r"(?P<name>[가-힣]{2,4}(?![가-힣])|[A-Z][a-z]+(?: [A-Z]\.?)?(?: [A-Z][a-z]+){1,2}(?![\w]))",
            re.MULTILINE,
        )
        super().__init__(supported_entities=["PERSON"], supported_language=LANGUAGE, name="LabelledNameRecognizer")

    def load(self) -> None:  # nothing to load: no model
        pass

    def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
        results = []
        for match in self._regex.finditer(text):
            name = match.group("name")
            if is_hangul(name[0]) and not is_korean_full_name(name, self.surnames):
                continue
            if text.startswith(", dtype", match.end()):
                continue
            results.append(RecognizerResult(
                "PERSON", match.start("name"), match.end("name"), 0.6,
                recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                      RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                                      RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY: True},
            ))
        return results


def build_recognizers(labels: list[str], surnames: list[str], context_window: int) -> list[EntityRecognizer]:
    recognizers: list[EntityRecognizer] = [
        RrnRecognizer(), MaskedRrnRecognizer(), FrnRecognizer(), PassportRecognizer(),
        DriverLicenseRecognizer(), HealthInsuranceRecognizer(), PhoneRecognizer(), EmailRecognizer(),
        LabelledNameRecognizer(labels, surnames),
    ]
    for rec in recognizers:
        if isinstance(rec, WindowContext):
            rec.context_window = context_window
    return recognizers
