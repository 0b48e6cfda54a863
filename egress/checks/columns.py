"""What a table column is, read from its name and its values: counts, percentages, identifiers,
quasi-identifiers, genotypes, allele counts. The rules are patterns here, not scattered in checks."""

from __future__ import annotations

import re

import polars as pl

COUNT_NAME = re.compile(
    r"(^n$|^n[_ .(]|[_ .]n$|^count|count$|_count|cnt|freq|cases|events?$|patients|subjects|participants|"
    r"persons|people|individuals|deaths|^total$|^num_|number of|^no\. of|환자수|건수|인원|명$|빈도)", re.I)
NON_COUNT_NAME = re.compile(
    r"(^|[^a-z])(age|year|yr|date|time|days?|months?|weeks?|hours?|id|code|zip|post|score|mean|median|avg|"
    r"average|sd|std|se|min|max|iqr|q1|q3|p|pval|p_?value|beta|coef|or|hr|rr|ci|lower|upper|pct|percent|"
    r"prop|proportion|rate|ratio|bmi|height|weight|dose|chr|chrom|pos|position|start|end|bp|length|index|"
    r"rank|order|seq|version|grade|stage|level|value|visit|af|maf|an|estimate|stat|t|z)([^a-z]|$)", re.I)
SURVIVAL_NAME = re.compile(r"(n[._ ]?risk|at[._ ]?risk|n[._ ]?event|n[._ ]?censor|number at risk|위험군)", re.I)
PERCENT_NAME = re.compile(r"(%|pct|percent|proportion|prop\b|비율)", re.I)
HEADER_N = re.compile(r"[(\[ ,]?\b[Nn]\s*=\s*([\d,]+)")
TOTAL_NAME = re.compile(r"^(total|sum|total_value|cell_total|합계)$", re.I)
TOP1_NAME = re.compile(r"^(top_?1|largest|max_contrib\w*|first_largest|largest_contributor|top1_value)$", re.I)
TOP2_NAME = re.compile(r"^(top_?2|second|second_largest|top2_value|second_contributor)$", re.I)
ID_NAME = re.compile(
    r"(^|[_ .])(id|pid|iid|fid|mrn|patient|patient_?id|subject|subject_?id|sample|sample_?id|participant|"
    r"participant_?id|person_?id|pseudonym|환자번호|등록번호|연구대상자번호|대상자id)($|[_ .])", re.I)
NOT_PERSON_ID = re.compile(r"(variant|snp|rs|gene|probe|transcript|marker|site|hospital|center|batch|plate)", re.I)
QUASI_IDENTIFIERS = {
    "age": re.compile(r"(^|_)(age|birth|dob|birth_?year|생년|나이|연령)", re.I),
    "sex": re.compile(r"(^|_)(sex|gender|성별)($|_)", re.I),
    "region": re.compile(r"(region|sido|sigungu|zip|postcode|postal|district|county|city|address|지역|시도|주소|시군구)", re.I),
    "diagnosis": re.compile(r"(diagnosis|^dx|_dx|icd|disease|condition|진단|상병)", re.I),
    "date": re.compile(r"(date|_dt$|일자|날짜)", re.I),
    "ethnicity": re.compile(r"(race|ethnic|nationality|국적)", re.I),
    "occupation": re.compile(r"(occupation|job|직업)", re.I),
}
VARIANT_TABLE = re.compile(r"^(rsid|rs_?id|snp|variant|variant_?id|chrom|chr|pos|ref|alt|marker)$", re.I)
ALLELE_COUNT_NAME = re.compile(r"^(ac|alt_?ac|allele_?count|alt_?count|n_?alt|n_?carriers?|carriers?|het|het_?count|n_?het|hom|hom_?alt|n_?hom\w*|hom_?count)$", re.I)
ALLELE_FREQ_NAME = re.compile(r"^(af|maf|alt_?af|allele_?freq\w*)$", re.I)
ALLELE_NUMBER_NAME = re.compile(r"^(an|allele_?number|n_?alleles)$", re.I)
GENOTYPE_VALUE = r"^\s*(?:[0-2.][/|][0-2.]|[ACGT][/|][ACGT])\s*$"
N_PERCENT_VALUE = r"^\s*(\d[\d,]*)\s*\(\s*\d+(?:\.\d+)?\s*%?\s*\)\s*$"


def numeric_expr(name: str, dtype) -> pl.Expr:
    """The expression behind `numeric()`, for evaluating many columns in one pass."""
    if dtype != pl.Utf8:
        return pl.col(name).cast(pl.Float64, strict=False)
    return pl.col(name).str.strip_chars().str.replace_all(",", "").str.strip_suffix("%").cast(pl.Float64, strict=False)


def to_float(value) -> float | None:
    """`numeric()` for one value: thousands separators and a trailing % removed."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().replace(",", "")
    if text.endswith("%"):
        text = text[:-1]
    try:
        number = float(text)
    except ValueError:
        return None
    return number if number == number else None  # NaN is no number here


def filled_expr(name: str, dtype) -> pl.Expr:
    """How many cells of a column hold something."""
    if dtype != pl.Utf8:
        return pl.col(name).is_not_null().sum()
    return (pl.col(name).is_not_null() & (pl.col(name).str.strip_chars() != "")).sum()


def numeric(series: pl.Series) -> pl.Series:
    """Values as floats (thousands separators and a trailing % removed); null where not a number."""
    if series.dtype != pl.Utf8:
        return series.cast(pl.Float64, strict=False)
    cleaned = series.str.strip_chars().str.replace_all(",", "").str.strip_suffix("%")
    return cleaned.cast(pl.Float64, strict=False)


def non_null(series: pl.Series) -> pl.Series:
    if series.dtype == pl.Utf8:
        return series.filter(series.is_not_null() & (series.str.strip_chars() != ""))
    return series.drop_nulls()


def is_numeric_column(series: pl.Series, share: float = 0.9) -> bool:
    values = non_null(series)
    if len(values) == 0:
        return False
    return numeric(values).is_not_null().sum() >= share * len(values)


def is_integer_counts(values: pl.Series) -> bool:
    """All non-null values are whole numbers ≥ 0."""
    v = values.drop_nulls().drop_nans() if values.dtype == pl.Float64 else values.drop_nulls()
    if len(v) == 0:
        return False
    return bool(((v >= 0) & (v == v.round(0))).all())


def share_matching(series: pl.Series, pattern: str) -> float:
    values = non_null(series)
    if len(values) == 0 or values.dtype != pl.Utf8:
        return 0.0
    return float(values.str.contains(pattern).sum()) / len(values)


def n_percent_counts(series: pl.Series) -> pl.Series:
    """The n of 'n (p%)' cells (Table 1 style)."""
    return series.str.extract(N_PERCENT_VALUE, 1).str.replace_all(",", "").cast(pl.Float64, strict=False)


def header_n(name: str) -> int | None:
    """A denominator written in a column header, 'Cases (N=200)'."""
    match = HEADER_N.search(name)
    return int(match.group(1).replace(",", "")) if match else None


def quasi_identifier_kind(name: str) -> str | None:
    for kind, pattern in QUASI_IDENTIFIERS.items():
        if pattern.search(name):
            return kind
    return None
