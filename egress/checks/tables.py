"""Statistical disclosure checks on one table: small counts, zeros, dominance, survival counts,
individual-level rows, genotype columns and rare variants.

A table arrives as a polars DataFrame of strings (whatever file or notebook output it came
from); `where` is the location prefix ("cell 7, output 2, text/html, table 1").
Rows are numbered from 1, the first row after the header.
"""

from __future__ import annotations

import re

import polars as pl

from cirn.policies.egress_rules import EgressPolicy

from . import columns as col
from .findings import Finding, Verdict
from .names import LATIN_FULL_NAME, is_korean_full_name


def _between(values: pl.Series, low: float, high: float) -> list[tuple[int, float]]:
    """(row, value) of the cells with low < value < high, rows from 1. The filter runs in polars,
    so a table of a million counts costs Python only its hits."""
    if len(values) <= TableView.SMALL:  # polars' fixed cost per operation is more than the loop
        return [(row, v) for row, v in enumerate(values.to_list(), start=1) if v is not None and low < v < high]
    hit = ((values > low) & (values < high)).fill_null(False)
    rows = hit.arg_true()
    return list(zip((rows + 1).to_list(), values.filter(hit).to_list()))


def _loc(where: str, row: int | None, column: str | None) -> str:
    parts = [where] if where else []
    if row is not None:
        parts.append(f"row {row}")
    if column is not None:
        parts.append(f"column '{column}'")
    return ", ".join(parts)


class TableView:
    """One table profiled in a few bulk passes: each column's numeric reading, how many cells are
    filled, numeric, whole non-negative numbers, genotype calls or 'n (p%)' cells. polars has a
    fixed cost per operation, so a notebook with hundreds of small tables must not pay it per
    column and per check."""

    SAMPLE = 200
    SMALL = 2000  # rows; below this plain Python beats polars' fixed cost per operation

    def __init__(self, df: pl.DataFrame):
        self.df = df
        self._numeric: dict[str, pl.Series] = {}
        if df.height <= self.SMALL:
            self._profile_small(df)
            return
        dtypes = dict(zip(df.columns, df.dtypes))
        text_cols = [c for c in df.columns if dtypes[c] == pl.Utf8]
        if df.height > self.SAMPLE:
            # A column whose first cells are mostly not numbers is text: skip casting all of it.
            # The same for genotype and 'n (p%)' columns: free-text columns are not regex-matched whole.
            head = df.head(self.SAMPLE).select(
                [col.numeric_expr(c, dtypes[c]).is_not_null().sum().alias(f"num:{c}") for c in df.columns]
                + [col.filled_expr(c, dtypes[c]).alias(f"filled:{c}") for c in df.columns]
                + [pl.col(c).str.contains(col.GENOTYPE_VALUE).sum().alias(f"gt:{c}") for c in text_cols]
                + [pl.col(c).str.contains(col.N_PERCENT_VALUE).sum().alias(f"npct:{c}") for c in text_cols]
            ).row(0, named=True)
            half = {c: 0.5 * max(head[f"filled:{c}"], 1) for c in df.columns}
            candidates = [c for c in df.columns if head[f"num:{c}"] >= half[c]]
            gt_cols = [c for c in text_cols if head[f"gt:{c}"] >= half[c]]
            npct_cols = [c for c in text_cols if head[f"npct:{c}"] >= half[c]]
        else:
            candidates, gt_cols, npct_cols = list(df.columns), text_cols, text_cols
        # Only these columns can be numeric, genotype or 'n (p%)'; for the others no share is read.
        profiled = [c for c in df.columns if c in set(candidates) | set(gt_cols) | set(npct_cols)]
        # A plain cast reads clean numbers; only a column with cells it cannot read (' 12', '1,200',
        # '12%') pays for the cleaning expression, which copies every cell three times.
        direct = {c: pl.col(c).cast(pl.Float64, strict=False) for c in candidates}
        exprs = [col.filled_expr(c, dtypes[c]).alias(f"filled:{c}") for c in profiled]
        exprs += [pl.col(c).str.contains(col.GENOTYPE_VALUE).sum().alias(f"gt:{c}") for c in gt_cols]
        exprs += [pl.col(c).str.contains(col.N_PERCENT_VALUE).sum().alias(f"npct:{c}") for c in npct_cols]
        exprs += [(direct[c].is_null() & (pl.col(c).str.len_bytes() > 0)).any().alias(f"unclean:{c}")
                  for c in candidates if dtypes[c] == pl.Utf8]
        self.stats = df.select(exprs).row(0, named=True) if exprs else {}
        if not candidates:
            return
        numbers = df.select([(col.numeric_expr(c, dtypes[c]) if self.stats.get(f"unclean:{c}") else direct[c]).alias(c)
                             for c in candidates])
        self._numeric = {c: numbers[c] for c in candidates}
        self.stats.update(numbers.select(
            [pl.col(c).is_not_null().sum().alias(f"num:{c}") for c in candidates]
            + [((pl.col(c) >= 0) & (pl.col(c) == pl.col(c).round(0))).fill_null(True).all().alias(f"int:{c}")
               for c in candidates]).row(0, named=True))

    def _profile_small(self, df: pl.DataFrame) -> None:
        stats: dict = {}
        genotype, n_pct = re.compile(col.GENOTYPE_VALUE), re.compile(col.N_PERCENT_VALUE)
        for name in df.columns:
            values = df[name].to_list()
            texts = [str(v).strip() for v in values if v is not None and str(v).strip() != ""]
            numbers = [col.to_float(v) for v in values]
            present = [v for v in numbers if v is not None]
            stats[f"filled:{name}"] = len(texts)
            stats[f"num:{name}"] = len(present)
            stats[f"int:{name}"] = all(v >= 0 and v == round(v) for v in present)
            stats[f"gt:{name}"] = sum(1 for t in texts if genotype.match(t))
            stats[f"npct:{name}"] = sum(1 for t in texts if n_pct.match(t))
            self._numeric[name] = pl.Series(name, numbers, dtype=pl.Float64)
        self.stats = stats

    def numeric(self, name: str) -> pl.Series:
        if name not in self._numeric:
            self._numeric[name] = self.df.select(col.numeric_expr(name, self.df[name].dtype).alias(name)).to_series()
        return self._numeric[name]

    def filled(self, name: str) -> int:
        return self.stats.get(f"filled:{name}", 0)

    def share(self, kind: str, name: str) -> float:
        filled = self.filled(name)
        return self.stats.get(f"{kind}:{name}", 0) / filled if filled else 0.0

    def is_numeric(self, name: str, share: float = 0.9) -> bool:
        return self.filled(name) > 0 and self.share("num", name) >= share

    def is_integer_counts(self, name: str) -> bool:
        return self.stats.get(f"num:{name}", 0) > 0 and bool(self.stats.get(f"int:{name}", False))


class TableChecker:
    """Runs every table check once; counts consumed by a specific check (survival, allele
    counts) are not checked again as plain counts."""

    def __init__(self, policy: EgressPolicy, pii_severity: dict[str, Verdict] | None = None):
        self.policy = policy
        self.person_severity = (pii_severity or {}).get("PERSON", Verdict.REVIEW)

    def check(self, df: pl.DataFrame, where: str = "") -> list[Finding]:
        if df.height == 0 or df.width == 0:
            return []
        findings: list[Finding] = []
        used: set[str] = set()
        self.view = TableView(df)
        findings += self._genotype_columns(df, where, used)
        findings += self._rare_variants(df, where, used)
        findings += self._survival(df, where, used)
        findings += self._dominance(df, where, used)
        counts = self._count_columns(df, used)
        findings += self._small_counts(df, counts, where)
        findings += self._percent_counts(df, where, used)
        findings += self._identifier_columns(df, where)
        # An aggregate table names its counts (n, count, cases); its rows are unique on their
        # categories by construction. Whole numbers alone (blood pressure) do not make one.
        if not any(col.COUNT_NAME.search(name) for name in counts):
            findings += self._quasi_identifiers(df, where)
        findings += self._name_columns(df, where)
        return findings

    # -- counts -------------------------------------------------------------------------------
    def _count_columns(self, df: pl.DataFrame, used: set[str]) -> dict[str, pl.Series]:
        """Columns whose values are counts of people: by name, or whole numbers in a cross-table
        (a table with a text label column) whose name does not say it is something else."""
        has_labels = any(not self.view.is_numeric(c) for c in df.columns)
        out: dict[str, pl.Series] = {}
        for name in df.columns:
            if name in used:
                continue
            series = df[name]
            if self.view.share("npct", name) >= 0.5:
                out[name] = col.n_percent_counts(series)
                continue
            if not self.view.is_numeric(name, 1.0) or not self.view.is_integer_counts(name):
                continue
            values = self.view.numeric(name)
            if col.COUNT_NAME.search(name) and not col.PERCENT_NAME.search(name):
                out[name] = values
            elif has_labels and not col.NON_COUNT_NAME.search(name):
                out[name] = values
        return out

    def _rounded(self, values: pl.Series) -> bool:
        base = self.policy.rounding_base
        if not base:
            return False
        if len(values) <= TableView.SMALL:
            nonzero = [v for v in values.to_list() if v]
            return len(nonzero) >= self.policy.rounding_min_cells and all(v % base == 0 for v in nonzero)
        nonzero = values.drop_nulls()
        nonzero = nonzero.filter(nonzero != 0)
        return len(nonzero) >= self.policy.rounding_min_cells and bool((nonzero % base == 0).all())

    def _small_counts(self, df: pl.DataFrame, counts: dict[str, pl.Series], where: str) -> list[Finding]:
        findings = []
        min_count = self.policy.min_count
        zeros = Verdict.parse(self.policy.zeros)
        for name, values in counts.items():
            rounded = self._rounded(values)
            for row, v in _between(values, float("-inf"), min_count):
                v = int(v)
                if v == 0:
                    if zeros != Verdict.PASS:
                        findings.append(Finding("small-count.zero", zeros, _loc(where, row, name),
                                                "a zero count can disclose that no one in a group has an attribute"))
                elif not rounded:
                    findings.append(Finding("small-count.threshold", Verdict.BLOCK, _loc(where, row, name),
                                            f"count {v} is below {min_count}"))
        return findings

    def _percent_counts(self, df: pl.DataFrame, where: str, used: set[str]) -> list[Finding]:
        """Counts a reader can recover from a percentage and its denominator."""
        findings = []
        denominators = [c for c in df.columns if col.TOTAL_NAME.match(c) or re.fullmatch(r"(n_?total|denominator|N)", c)]
        for name in df.columns:
            if name in used or not col.PERCENT_NAME.search(name):
                continue
            if not self.view.is_numeric(name, 1.0):
                continue
            pct = self.view.numeric(name)
            if col.header_n(name):
                denominator = pl.Series([float(col.header_n(name))] * df.height)
            elif denominators and denominators[0] != name and self.view.is_numeric(denominators[0], 1.0):
                denominator = self.view.numeric(denominators[0])
            else:
                continue
            scale = 1.0 if (pct.drop_nulls() <= 1.0).all() and "%" not in name else 100.0
            recovered = (pct * denominator / scale).round(0)
            for row, (p, n) in enumerate(zip(pct.to_list(), recovered.to_list()), start=1):
                if n is not None and 0 < n < self.policy.min_count:
                    findings.append(Finding("small-count.percent", Verdict.BLOCK, _loc(where, row, name),
                                            f"{p:g}{'%' if scale == 100 else ''} of its denominator is a count of {int(n)}, below {self.policy.min_count}"))
        return findings

    def _survival(self, df: pl.DataFrame, where: str, used: set[str]) -> list[Finding]:
        findings = []
        threshold = self.policy.min_survival_count
        for name in df.columns:
            if not col.SURVIVAL_NAME.search(name) or not self.view.is_numeric(name, 1.0):
                continue
            used.add(name)
            for row, v in _between(self.view.numeric(name), 0, threshold):
                findings.append(Finding("small-count.survival", Verdict.BLOCK, _loc(where, row, name),
                                        f"survival count {v:g} is below {threshold}"))
        return findings

    def _dominance(self, df: pl.DataFrame, where: str, used: set[str]) -> list[Finding]:
        """N-K and p-ratio rules, when the table carries its total and largest contributors."""
        total = next((c for c in df.columns if col.TOTAL_NAME.match(c)), None)
        top1 = next((c for c in df.columns if col.TOP1_NAME.match(c)), None)
        top2 = next((c for c in df.columns if col.TOP2_NAME.match(c)), None)
        if not (total and top1 and top2):
            return []
        used.update((total, top1, top2))
        rule = self.policy.dominance
        findings = []
        rows = zip(self.view.numeric(total).to_list(), self.view.numeric(top1).to_list(), self.view.numeric(top2).to_list())
        for row, (t, a, b) in enumerate(rows, start=1):
            if t is None or a is None or b is None or t <= 0:
                continue
            if a + b >= rule.k * t:
                findings.append(Finding("dominance.nk-rule", Verdict.BLOCK, _loc(where, row, total),
                                        f"the {rule.n} largest contributors hold {100 * (a + b) / t:.0f}% of the total (limit {100 * rule.k:.0f}%)"))
            elif a > 0 and (t - a - b) < rule.p_ratio * a:
                findings.append(Finding("dominance.p-ratio", Verdict.BLOCK, _loc(where, row, total),
                                        f"the rest of the total is {100 * (t - a - b) / a:.1f}% of the largest contributor (needs {100 * rule.p_ratio:.0f}%)"))
        return findings

    # -- genomic ------------------------------------------------------------------------------
    def _genotype_columns(self, df: pl.DataFrame, where: str, used: set[str]) -> list[Finding]:
        findings = []
        for name in df.columns:
            if self.view.filled(name) < 3:
                continue
            if self.view.share("gt", name) >= 0.8:
                used.add(name)
                findings.append(Finding("genotype.column", Verdict.BLOCK, _loc(where, None, name),
                                        "column holds per-person genotype calls"))
        return findings

    def _rare_variants(self, df: pl.DataFrame, where: str, used: set[str]) -> list[Finding]:
        if sum(bool(col.VARIANT_TABLE.match(c)) for c in df.columns) == 0:
            return []
        findings = []
        min_count = self.policy.min_count
        ac_cols = [c for c in df.columns if col.ALLELE_COUNT_NAME.match(c) and self.view.is_numeric(c, 1.0)]
        sources = [(c, self.view.numeric(c)) for c in ac_cols]
        af = next((c for c in df.columns if col.ALLELE_FREQ_NAME.match(c)), None)
        an = next((c for c in df.columns if col.ALLELE_NUMBER_NAME.match(c)), None)
        if not ac_cols and af and an:
            sources.append((af, (self.view.numeric(af) * self.view.numeric(an)).round(0)))
        for name, values in sources:
            used.add(name)
            for row, v in _between(values, 0, min_count):
                findings.append(Finding("rare-variant.allele-count", Verdict.BLOCK, _loc(where, row, name),
                                        f"allele count {v:g} is below {min_count}: carriers of a rare variant can be identified"))
        return findings

    # -- individual-level ---------------------------------------------------------------------
    def _identifier_columns(self, df: pl.DataFrame, where: str) -> list[Finding]:
        findings = []
        if df.height < 2:
            return findings
        for name in df.columns:
            if not col.ID_NAME.search(name) or col.NOT_PERSON_ID.search(name):
                continue
            values = col.non_null(df[name])
            if len(values) >= 2 and values.n_unique() >= 0.9 * len(values):
                findings.append(Finding("individual-level.identifier-column", Verdict.BLOCK, _loc(where, None, name),
                                        f"column '{name}' identifies individuals ({values.n_unique()} distinct values in {len(values)} rows): one row per person"))
        return findings

    def _quasi_identifiers(self, df: pl.DataFrame, where: str) -> list[Finding]:
        qi: dict[str, str] = {}
        for name in df.columns:
            kind = col.quasi_identifier_kind(name)
            if kind and kind not in qi:
                qi[kind] = name
        if len(qi) < self.policy.quasi_identifier_columns or df.height < 2:
            return []
        names = list(qi.values())
        keyed = df.select(names).with_row_index("row", offset=1)
        unique = keyed.join(df.select(names).group_by(names).len().filter(pl.col("len") == 1).drop("len"),
                            on=names, how="semi", nulls_equal=True)
        if unique.height == 0:
            return []
        first = unique["row"][0]
        return [Finding("individual-level.quasi-identifiers", Verdict.BLOCK, _loc(where, first, None),
                        f"{unique.height} of {df.height} rows are unique on {', '.join(names)}: individual-level data")]

    def _name_columns(self, df: pl.DataFrame, where: str) -> list[Finding]:
        findings = []
        patterns = [re.compile(p, re.I) for p in self.policy.names.column_patterns]
        surnames = set(self.policy.names.surnames)
        if self.person_severity == Verdict.PASS:
            return findings
        for name in df.columns:
            if not any(p.search(name) for p in patterns) or df[name].dtype != pl.Utf8:
                continue
            for row, value in enumerate(df[name].to_list(), start=1):
                if value and (is_korean_full_name(value, surnames) or LATIN_FULL_NAME.match(value.strip())):
                    findings.append(Finding("pii.person-name", self.person_severity, _loc(where, row, name),
                                            "a person's name in a name column"))
        return findings
