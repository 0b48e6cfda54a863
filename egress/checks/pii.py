"""Personal information in text: cheap prefilters find candidate lines, Presidio judges them.

Presidio's analyzer runs with its no-op NLP engine (no spaCy model download) and the pattern
recognizers of `pii_recognizers`. It only ever sees the lines that a single fast regular
expression marked as candidates (digit runs, '@', name labels); on text that is mostly
aggregate numbers this is what makes the scan an order of magnitude faster than handing
Presidio every line, with the same results (see benchmarks/egress_scan.py).
"""

from __future__ import annotations

import bisect
import logging
from dataclasses import dataclass

import numpy as np
import polars as pl

from cirn.errors import CirnError
from cirn.policies.egress_rules import EgressPolicy, NerModel

from .masked import MaskedText


# Presidio (and spaCy under it) take seconds to import: only a scan that reads text pays for it.
LANGUAGE = "ko"

ENTITY_CHECKS = {
    "KR_RRN": "pii.kr-rrn",
    "KR_RRN_MASKED": "pii.kr-rrn-masked",
    "KR_FRN": "pii.kr-frn",
    "KR_PASSPORT": "pii.kr-passport",
    "KR_DRIVER_LICENSE": "pii.kr-driver-licence",
    "KR_PHONE": "pii.kr-phone",
    "EMAIL_ADDRESS": "pii.email",
    "KR_HEALTH_INSURANCE": "pii.kr-health-insurance",
    "PERSON": "pii.person-name",
}
ENTITY_LABELS = {
    "KR_RRN": "resident registration number",
    "KR_RRN_MASKED": "masked resident registration number (still gives birth date and sex)",
    "KR_FRN": "foreigner registration number",
    "KR_PASSPORT": "passport number",
    "KR_DRIVER_LICENSE": "driver's licence number",
    "KR_PHONE": "phone number",
    "EMAIL_ADDRESS": "e-mail address",
    "KR_HEALTH_INSURANCE": "health insurance number",
    "PERSON": "person name",
}
# Lines longer than this are cut into windows around each candidate rather than analysed whole.
MAX_WINDOW = 4096
# Candidate windows handed to Presidio together, up to this many characters.
CHUNK_CHARS = 64 * 1024

log = logging.getLogger(__name__)


class NerModelError(CirnError):
    """The policy names an NER model that is not installed on this host."""


@dataclass(frozen=True)
class PiiHit:
    entity: str
    start: int
    end: int
    score: float
    value: str


def build_analyzer(policy: EgressPolicy):
    """Presidio with our recognizers: the no-op NLP engine unless the policy plugs in a model."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine

    from .pii_recognizers import REGEX_FLAGS, build_recognizers
    names = policy.names
    recognizers = build_recognizers(names.labels, names.surnames, policy.pii.context_window)
    language = LANGUAGE
    enhancer = None  # Presidio's LemmaContextAwareEnhancer, which reads the model's tokens
    if policy.ner_model is None:
        nlp_engine = NoOpNlpEngine(models=[{"lang_code": language, "model_name": "none"}])
        enhancer = _without_tokens_enhancer()
    else:
        nlp_engine, ner_recognizer = _ner_engine(policy.ner_model)
        language = policy.ner_model.language
        for rec in recognizers:
            rec.supported_language = language
        recognizers.append(ner_recognizer)
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=[language], global_regex_flags=REGEX_FLAGS)
    return AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=[language],
                          default_score_threshold=policy.pii.score_threshold, context_aware_enhancer=enhancer)


def _without_tokens_enhancer():
    """The analyzer-level context enhancer for the no-op NLP engine. Presidio's own one looks for
    context words among spaCy tokens; the no-op engine has none, so it never changes a score and
    its cost is deep-copying every candidate result. Our recognizers read their context words
    themselves (`WindowContext`)."""
    from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer

    class WithoutTokens(ContextAwareEnhancer):
        def __init__(self):
            super().__init__(context_similarity_factor=0.0, min_score_with_context_similarity=0.0,
                             context_prefix_count=0, context_suffix_count=0)

        def enhance_using_context(self, text, raw_results, nlp_artifacts, recognizers, context=None):
            return raw_results

    return WithoutTokens()


def _ner_engine(model: NerModel):
    """An installed spaCy/transformers model as Presidio's NLP engine, with its NER as PERSON."""
    from presidio_analyzer.nlp_engine import NerModelConfiguration
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    mapping = {label: "PERSON" for label in model.entities}
    ner_config = NerModelConfiguration(model_to_presidio_entity_mapping=mapping, labels_to_ignore=[],
                                       default_score=0.85)
    try:
        if model.engine == "spacy":
            from presidio_analyzer.nlp_engine import SpacyNlpEngine
            engine = SpacyNlpEngine(models=[{"lang_code": model.language, "model_name": model.model}],
                                    ner_model_configuration=ner_config)
        else:
            from presidio_analyzer.nlp_engine import TransformersNlpEngine
            engine = TransformersNlpEngine(
                models=[{"lang_code": model.language, "model_name": {"spacy": "blank", "transformers": model.model}}],
                ner_model_configuration=ner_config)
        engine.load()
    except (OSError, ImportError, ValueError) as exc:
        raise NerModelError(
            f"egress.ner_model {model.model!r} ({model.engine}) cannot be loaded: {exc}; install the model "
            "offline on this host or remove ner_model from the policy") from None
    recognizer = SpacyRecognizer(supported_language=model.language, supported_entities=["PERSON"])
    return engine, recognizer


PHONE_SEPARATORS = b"-. )"


LABEL_MARKS = (b":", b"=", "：".encode())
PHONE_SEPARATOR_CODES = list(PHONE_SEPARATORS)
LABEL_MARK_CODES = [mark[0] for mark in LABEL_MARKS]


# Below this, a few `bytes.find` passes cost less than handing the text to polars (notebooks are
# thousands of small channels).
POLARS_MIN_BYTES = 1 << 16


class Prefilter:
    """Offsets where some recognizer could match: digit runs, phone and passport shapes, '@',
    and a name label before ':' or '='. Every recognizer's pattern contains one of them."""

    def __init__(self, labels: list[str]):
        self.labels = tuple(label.lower() for label in labels)
        self.longest = max((len(label.encode()) for label in labels), default=0) + 8
        self.needles = [b"000000", *(bytes([sep]) + b"0000" for sep in PHONE_SEPARATORS), b"0a0000", b"0B0000", b"@"]
        if self.labels:
            self.needles += LABEL_MARKS

    def byte_offsets(self, masked: MaskedText) -> list[int]:
        if len(masked.masked) < POLARS_MIN_BYTES or masked.surrogates:  # lone surrogates are not UTF-8
            return self._small_byte_offsets(masked)
        folded, raw = masked.masked, masked.raw
        found = np.sort(needle_offsets(masked, self.needles))
        if not len(found):
            return []
        at = np.frombuffer(folded, dtype=np.uint8)
        first = at[found]
        second = at[np.minimum(found + 1, len(at) - 1)]
        hits = [found[first == ord("@")]]
        # digit runs: a run of n digits holds the needle at n - 5 overlapping places; one every
        # six (what a search that resumes after each match finds) is enough to mark its line
        digits = found[(first == ord("0")) & (second == ord("0"))]
        if len(digits):
            run_start = np.flatnonzero(np.diff(digits, prepend=-2) != 1)
            starts = np.repeat(digits[run_start], np.diff(np.append(run_start, len(digits))))
            hits.append(digits[(digits - starts) % 6 == 0])
        # passport shapes (M123A4567): three digits, a letter, four digits
        passport = found[(first == ord("0")) & ((second == ord("a")) | (second == ord("B"))) & (found >= 2)]
        passport = passport[(at[passport - 2] == ord("0")) & (at[passport - 1] == ord("0"))]
        hits.append(passport - 2)
        extra = [_phone_start(folded, i) for i in found[np.isin(first, PHONE_SEPARATOR_CODES)].tolist()]
        if self.labels:
            extra += [i for i in found[np.isin(first, LABEL_MARK_CODES)].tolist()
                      if folded.startswith(LABEL_MARKS, i) and self._after_label(raw, i)]
        hits.append(np.array([i for i in extra if i is not None], dtype=np.int64))
        return np.unique(np.concatenate(hits)).tolist()

    def _small_byte_offsets(self, masked: MaskedText) -> list[int]:
        """The same offsets, one `bytes.find` pass per needle: on a short text (most notebook
        channels) numpy's and polars' fixed costs per call are more than the search."""
        folded, raw = masked.masked, masked.raw
        hits = list(masked.find_all(b"000000")) + list(masked.find_all(b"@"))
        for sep in PHONE_SEPARATORS:
            hits += [_phone_start(folded, i) for i in masked.find_all(bytes([sep]) + b"0000")]
        for needle in (b"0a0000", b"0B0000"):
            hits += [i - 2 for i in masked.find_all(needle) if i >= 2 and folded[i - 2:i] == b"00"]
        if self.labels:
            hits += [i for mark in LABEL_MARKS for i in masked.find_all(mark) if self._after_label(raw, i)]
        return sorted({i for i in hits if i is not None})

    def _after_label(self, raw: bytes, i: int) -> bool:
        """Whether the ':' or '=' at byte i follows a name label (성명:, Patient =)."""
        return raw[max(0, i - self.longest):i].decode("utf-8", "ignore").rstrip().lower().endswith(self.labels)


def _phone_start(folded: bytes, i: int) -> int | None:
    """Phone shapes (010-1234-5678, 02) 312 4567): from a separator before four digits back over
    the separators to three digits, whose offset is returned; None when there are none."""
    j = i
    while j > 0 and folded[j - 1] in PHONE_SEPARATORS:
        j -= 1
    return j - 3 if j >= 3 and folded[j - 3:j] == b"000" else None


def needle_offsets(masked: MaskedText, needles: list[bytes]) -> np.ndarray:
    """Byte offsets in the folded text where any of `needles` starts: one Aho–Corasick pass in
    polars, with overlapping matches so that no shape hides another."""
    text = pl.Series([masked.masked], dtype=pl.Binary).cast(pl.String)
    return text.str.find_many([n.decode() for n in needles], overlapping=True)[0].to_numpy().astype(np.int64)


class PiiScanner:
    """Finds PII in text: `scan(text)` returns `PiiHit`s with offsets into `text`."""

    def __init__(self, policy: EgressPolicy):
        self.policy = policy
        from .pii_recognizers import REGEX_FLAGS
        self.regex_flags = REGEX_FLAGS
        self.analyzer = build_analyzer(policy)
        self.language = self.analyzer.supported_languages[0]
        self.entities = list(policy.pii.entities)
        self._prefilter = Prefilter(policy.names.labels)
        # An NER model reads free text, which no prefilter can stand in for.
        self.prefilter_enabled = policy.ner_model is None

    def candidate_windows(self, text: str, masked: MaskedText | None = None) -> list[tuple[int, int]]:
        """The lines (or, for very long lines, slices of them) that hold a candidate."""
        masked = masked or MaskedText(text)
        raw = masked.raw
        # Lines are found in the bytes first: a line with many candidates (a run of digits is one
        # at every position) costs one lookup, and only its ends are turned into characters.
        spans: list[tuple[int, int]] = []  # (start, end) of a short line, or (offset, -1) in a long one
        last_end = -1
        for b in self._prefilter.byte_offsets(masked):
            if b < last_end:
                continue
            start = raw.rfind(b"\n", 0, b) + 1
            end = raw.find(b"\n", b)
            end = len(raw) if end < 0 else end
            if end - start <= MAX_WINDOW:  # as many characters at most
                spans.append((start, end))
                last_end = end
            else:
                spans.append((b, -1))
        chars = iter(masked.char_offsets([x for span in spans for x in span if x >= 0]))
        windows: list[tuple[int, int]] = []
        last_end = -1
        for _first, second in spans:
            if second >= 0:
                line_start, line_end = next(chars), next(chars)
            else:
                offset = next(chars)
                if offset < last_end:
                    continue
                line_start = text.rfind("\n", 0, offset) + 1
                line_end = text.find("\n", offset)
                if line_end < 0:
                    line_end = len(text)
                if line_end - line_start > MAX_WINDOW:
                    line_start, line_end = _cut_window(text, offset, offset + 1, line_start, line_end,
                                                       self.policy.pii.context_window)
            if windows and line_start <= windows[-1][1]:
                windows[-1] = (windows[-1][0], max(windows[-1][1], line_end))
            else:
                windows.append((line_start, line_end))
            last_end = line_end
        return windows

    def analyze(self, text: str) -> list[PiiHit]:
        """Presidio on one piece of text, no prefilter."""
        results = self.analyzer.analyze(text=text, language=self.language, entities=self.entities,
                                        regex_flags=self.regex_flags)
        return [PiiHit(r.entity_type, r.start, r.end, r.score, text[r.start:r.end]) for r in results]

    def scan(self, text: str, masked: MaskedText | None = None) -> list[PiiHit]:
        if not text:
            return []
        if not self.prefilter_enabled:
            return self.analyze(text)
        hits: list[PiiHit] = []
        for chunk, segments in self._chunks(text, self.candidate_windows(text, masked)):
            seg_starts = [pos for pos, _ in segments]
            for hit in self.analyze(chunk):
                i = bisect.bisect_right(seg_starts, hit.start) - 1
                pos, window_start = segments[i]
                hits.append(PiiHit(hit.entity, hit.start - pos + window_start, hit.end - pos + window_start,
                                   hit.score, hit.value))
        return sorted(hits, key=lambda h: h.start)  # text order, however the windows were chunked

    def _chunks(self, text: str, windows: list[tuple[int, int]]):
        """Candidate windows joined into chunks, so Presidio's fixed cost per call is paid once
        per chunk, not once per line. The joiner is a blank stretch longer than the context
        window and every pattern's look-around, so no match or context word crosses from one
        window into the next: the results are those of analysing each window alone."""
        joiner = "\n" + " " * (self.policy.pii.context_window + 8) + "\n"
        parts: list[str] = []
        segments: list[tuple[int, int]] = []
        size = 0
        for start, end in windows:
            if parts and size + (end - start) > CHUNK_CHARS:
                yield "".join(parts), segments
                parts, segments, size = [], [], 0
            if parts:
                parts.append(joiner)
                size += len(joiner)
            segments.append((size, start))
            parts.append(text[start:end])
            size += end - start
        if parts:
            yield "".join(parts), segments


def _cut_window(text: str, start: int, end: int, line_start: int, line_end: int, context: int) -> tuple[int, int]:
    """A slice of a very long line around a candidate, widened to whitespace so no number is cut."""
    lo = max(line_start, start - context - 64)
    hi = min(line_end, end + 128)
    while lo > line_start and not text[lo - 1].isspace() and start - lo < MAX_WINDOW:
        lo -= 1
    while hi < line_end and not text[hi].isspace() and hi - end < MAX_WINDOW:
        hi += 1
    return lo, hi


def redact(value: str) -> str:
    """What a finding may show of a value: enough to find it, not enough to use it."""
    value = value.strip()
    keep = 2 if len(value) > 6 else 1
    return value[:keep] + "*" * max(3, len(value) - keep)
