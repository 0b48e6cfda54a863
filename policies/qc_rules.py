"""The `qc` section of the policy: sample and variant QC thresholds for `cirn datasets qc`."""

from __future__ import annotations

from pydantic import Field, model_validator

from .schema_base import Strict


class SampleQc(Strict):
    min_call_rate: float = Field(0.95, ge=0, le=1, description="A sample with fewer called genotypes fails.")
    max_het_deviation: float = Field(
        4.0, gt=0, description="A sample whose autosomal heterozygosity rate lies more than this many standard "
                               "deviations from the cohort mean fails (contamination or inbreeding).")
    min_ti_tv: float = Field(1.5, ge=0, description="Lowest acceptable transition/transversion ratio of a sample's SNVs.")
    max_ti_tv: float = Field(3.5, gt=0, description="Highest acceptable transition/transversion ratio.")
    male_min_x_f: float = Field(0.8, le=1, description="chrX inbreeding coefficient F at or above which a sample is called male.")
    female_max_x_f: float = Field(0.2, le=1, description="chrX F at or below which a sample is called female; between the two: ambiguous (fails).")
    sex_mismatch_fails: bool = Field(
        True, description="A sample whose sex inferred from chrX disagrees with the sex recorded for its participant "
                          "in the clinical table is flagged `sex-mismatch`; when true it also fails (a likely sample swap).")

    @model_validator(mode="after")
    def _ranges(self) -> "SampleQc":
        if self.min_ti_tv >= self.max_ti_tv:
            raise ValueError("qc.sample.min_ti_tv must be below qc.sample.max_ti_tv")
        if self.female_max_x_f >= self.male_min_x_f:
            raise ValueError("qc.sample.female_max_x_f must be below qc.sample.male_min_x_f")
        return self


class VariantQc(Strict):
    min_call_rate: float = Field(0.95, ge=0, le=1, description="A variant called in fewer samples fails.")
    min_hwe_p: float = Field(1e-6, ge=0, le=1, description="A variant whose Hardy-Weinberg exact p (autosomes) is below this fails.")
    min_af: float = Field(0.0, ge=0, le=0.5, description="Variants with alternate allele frequency below this are flagged (0: none).")


class QcExtracts(Strict):
    exclude_failed_samples: bool = Field(
        True, description="When a VCF dataset version has a QC result, `cirn project provision` leaves the samples "
                          "that failed it out of every table of the project's extract (INFO AC/AN/AF recounted).")
    site_info_fields: list[str] = Field(
        default_factory=list,
        description="INFO fields (IDs, or patterns such as `CLN*`) that describe the site, not the samples, kept as "
                    "they are in an extract that leaves samples out, next to the built-in ones (END, SVTYPE, DB, CSQ, "
                    "ANN, ...). Other INFO fields computed over every sample are recounted (AC, AN, AF, NS, DP) or "
                    "left out as null (QUAL, MQ, QD, ...); so is any field not named here.")


class QcPolicy(Strict):
    """Thresholds of `cirn datasets qc`; a sample or variant outside them is marked failed, with the reason."""

    sample: SampleQc = SampleQc()
    variant: VariantQc = VariantQc()
    extracts: QcExtracts = QcExtracts()
