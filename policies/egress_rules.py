"""The `egress` section of the policy: thresholds and file rules for `cirn egress scan`.

Defaults follow the SDC handbook practice that ACRO encodes (minimum count 10, zeros are
disclosive, dominance n=2/k=90%, p-ratio 10%, residual degrees of freedom 10, survival tables 10).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .schema_base import Strict

Severity = Literal["pass", "review", "block"]

MiB = 1024 * 1024


class Dominance(Strict):
    """Magnitude tables where contributor data is present (a total and the largest contributors)."""

    n: int = Field(default=2, ge=1, le=10, description="How many of the largest contributors the N-K rule adds up.")
    k: float = Field(default=0.9, gt=0, le=1, description="Block when the n largest contributors hold at least this share of the total.")
    p_ratio: float = Field(default=0.10, gt=0, le=1, description="Block when the rest (total minus the two largest) is below this share of the largest.")


class ArchiveLimits(Strict):
    """Limits against archive bombs; exceeding any of them blocks the archive."""

    max_depth: int = Field(default=3, ge=1, le=10, description="Archives inside archives are opened up to this depth.")
    max_members: int = Field(default=10_000, ge=1, description="Most members one archive may hold.")
    max_expanded_bytes: int = Field(default=1024 * MiB, ge=1, description="Most bytes all members of one archive (nested ones included) may expand to.")
    max_ratio: float = Field(default=200.0, gt=1, description="Highest expanded/compressed ratio a member may have before it is treated as a bomb.")


class TableLimits(Strict):
    """How large a table file (Parquet) may become once read, checked from its footer and
    dictionaries before it is read; a file over either cap is blocked unread."""

    max_cells: int = Field(default=20_000_000, ge=1, description="Most values (rows times columns, nested values counted) one table file may hold.")
    max_expanded_bytes: int = Field(default=512 * MiB, ge=1, description="Most bytes one table file may decode to (dictionary-encoded text counted as decoded).")


class SandboxLimits(Strict):
    """The processes the checks run in: each file is checked by a worker process that holds
    only the file's bytes, the policy and the project's identifiers, under these limits. A file
    that breaks one is blocked, naming the limit, and the worker is replaced."""

    enabled: bool = Field(default=True, description="Check files in worker processes. false checks them inside the calling process (benchmark baselines and debugging only; never in production).")
    workers: int = Field(default=2, ge=1, le=64, description="Worker processes; also how many release requests the review service checks at once.")
    memory_bytes: int = Field(default=4096 * MiB, ge=256 * MiB, description="Address space of one worker (RLIMIT_AS).")
    cpu_seconds: int = Field(default=120, ge=1, description="CPU time one file may take (RLIMIT_CPU, counted per file).")
    wall_seconds: float = Field(default=180.0, gt=0, description="Wall-clock time one file may take before its worker is killed.")
    output_bytes: int = Field(default=16 * MiB, ge=65536, description="Largest report a worker may send back for one file.")
    user: str = Field(default="nobody", min_length=1, description="Account the workers run as when the caller is root (a name or a numeric uid); they never run as root.")


class NameDetection(Strict):
    """Person names without a language model: labelled fields and name-like table columns."""

    labels: list[str] = Field(
        default=["성명", "이름", "환자명", "환자 이름", "보호자", "보호자명", "수진자", "Name", "Patient", "Patient name", "Full name", "Guardian"],
        description="A value right after one of these labels (followed by ':' or '=') is read as a person name.",
    )
    column_patterns: list[str] = Field(
        default=[r"(^|_)name($|_)", r"^(patient|guardian|subject)_?name", r"성명", r"이름", r"환자명", r"보호자"],
        description="Regular expressions (case-insensitive) for table columns whose values are person names.",
    )
    surnames: list[str] = Field(
        default=list("김이박최정강조윤장임한오서신권황안송류전홍고문양손배백허유남심노하곽성차주우구민진지엄채원천방공현함변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용예경봉사부가복태목형피두감음빈동온호범좌팽승간상갈시"),
        description="Korean surname syllables: a surname plus one or two Hangul syllables in a name field is a full name.",
    )


class NerModel(Strict):
    """An offline NER model plugged into Presidio for person names; the default runs without one."""

    engine: Literal["spacy", "transformers"] = Field(default="spacy", description="Which Presidio NLP engine loads the model.")
    model: str = Field(description="Installed package name or a folder path of the model; it must already be on the host (no downloads).")
    language: str = Field(default="ko", description="Language code the model is registered under.")
    entities: list[str] = Field(default=["PERSON"], description="NER labels reported as person names.")
    score_threshold: float = Field(default=0.5, ge=0, le=1, description="Lowest NER score that counts.")


class PiiRules(Strict):
    """Personal information found with Presidio's pattern recognizers (no model download)."""

    entities: list[str] = Field(
        default=["KR_RRN", "KR_RRN_MASKED", "KR_FRN", "KR_PASSPORT", "KR_DRIVER_LICENSE", "KR_PHONE", "EMAIL_ADDRESS", "KR_HEALTH_INSURANCE", "PERSON"],
        description="Which entities to look for.",
    )
    severity: dict[str, Severity] = Field(
        default={"EMAIL_ADDRESS": "review", "PERSON": "review"},
        description="Verdict per entity; entities not named here block.",
    )
    score_threshold: float = Field(default=0.4, ge=0, le=1, description="Lowest Presidio score that counts as a finding.")
    context_window: int = Field(default=40, ge=0, le=400, description="Characters before a candidate searched for context words (passport, licence, insurance numbers).")


class EgressPolicy(Strict):
    """Thresholds and file rules for `cirn egress scan` and the egress-review service."""

    min_count: int = Field(default=10, ge=1, description="Counts below this (and above zero) block.")
    zeros: Severity = Field(default="review", description="Verdict for a zero in a count column (a zero can disclose: 'no one in group X').")
    rounding_base: int = Field(default=5, ge=0, description="Count columns whose values are all multiples of this are accepted as rounded (mitigated); 0 turns it off.")
    rounding_min_cells: int = Field(default=3, ge=1, description="A column needs at least this many non-zero counts before its rounding is believed.")
    dominance: Dominance = Dominance()
    min_residual_dof: int = Field(default=10, ge=1, description="Regression outputs with fewer residual degrees of freedom block.")
    min_survival_count: int = Field(default=10, ge=1, description="At-risk and event counts in survival tables below this block.")
    quasi_identifier_columns: int = Field(default=3, ge=2, description="A table without counts whose rows are unique on this many quasi-identifier columns (age, sex, region, diagnosis, date) is individual-level.")
    min_sequence_length: int = Field(default=30, ge=10, description="A run of at least this many bases (ACGTN) is a raw sequence.")
    max_file_bytes: int = Field(default=100 * MiB, ge=1, description="Files larger than this are blocked without further reading.")
    archive: ArchiveLimits = ArchiveLimits()
    table_limits: TableLimits = TableLimits()
    sandbox: SandboxLimits = SandboxLimits()
    pii: PiiRules = PiiRules()
    names: NameDetection = NameDetection()
    ner_model: NerModel | None = Field(default=None, description="Optional offline NER model for person names; none by default.")

    @model_validator(mode="after")
    def _rounding_below_threshold(self) -> "EgressPolicy":
        if self.rounding_base and self.rounding_base >= self.min_count * 2:
            raise ValueError(
                f"egress.rounding_base {self.rounding_base} is too coarse for min_count {self.min_count}; "
                "use a base below twice the minimum count, or 0 to turn rounding off"
            )
        return self

    @model_validator(mode="after")
    def _wall_time_covers_cpu_time(self) -> "EgressPolicy":
        if self.sandbox.wall_seconds < self.sandbox.cpu_seconds:
            raise ValueError(
                f"egress.sandbox.wall_seconds {self.sandbox.wall_seconds:g} is below cpu_seconds {self.sandbox.cpu_seconds}; "
                "a file would be killed by the clock before its CPU limit could name the reason: raise wall_seconds"
            )
        return self
