"""The records of a VCF in one form, from either of the ingest's two readers.

- The sequential pass reads the VCF with cyvcf2 (`cyvcf2_records`): every file it can read, with
  exact line numbers in errors.
- The parallel pass has htslib parse each contig's VCF text (`htslib.IndexedVcf`) and decodes the
  binary record htslib builds, which is laid out as BCF specifies, with `struct` and numpy
  (`BcfDecoder`). Per-sample values are plain typed vectors in BCF (specification v2.2, "Genotype
  fields"), so a record's GT, DP and GQ for all samples are one `np.frombuffer` each. This replaced
  cyvcf2 reading the records, whose per-record conversions (`genotype.array()`, `format()`) and
  properties cost more CPU, on 2,000 samples, than the parse itself.

Both give `Record`s whose values follow cyvcf2's conventions (ID "." is None, a missing QUAL is
None, INFO values as `INFO.get` returns them), and genotypes in BCF's encoding: per sample one or
two integers `(allele + 1) << 1 | phased` (int8 or int16 as BCF stored them, int32 from cyvcf2),
0 a missing allele (".") and a negative value an allele the sample does not have (the second of a
haploid call). A test holds the two readers to the same
Parquet output. Anything the decoder does not expect raises `BcfLayoutError`; the caller then
redoes the file with the sequential pass, so an unusual file costs time, never correctness.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .htslib import HeaderIds, RawRecord

INT32_MISSING = -(2**31)  # htslib's bcf_int32_missing; every missing or absent DP/GQ is this
ABSENT = -127  # an allele a sample does not have (BCF's int8 vector end), as the chunks store it


class BcfLayoutError(ValueError):
    """The binary VCF holds something the decoder does not handle; read the file the other way."""


@dataclass(slots=True)
class Record:
    chrom: str
    pos: int  # 1-based
    id: str | None
    ref: str
    alts: list[str]  # ["."] when the record has no ALT
    qual: float | None
    filters: str  # ";"-joined, "." when none
    info: list  # one value per header INFO field, in header order, as cyvcf2's INFO.get gives it
    # Per sample, in BCF's encoding and integer width (int8, int16 or int32: see MISSING_FROM); None
    # without samples. GT: (n, 1) haploid or (n, 2) alleles (see the module docstring).
    gt: np.ndarray | None
    dp: np.ndarray | None  # (n,); None when the record has none or it is not an integer
    gq: np.ndarray | None


# ---------------------------------------------------------------------------------------------
# cyvcf2


def cyvcf2_records(vcf, infos, n_samples: int) -> Iterator[Record]:
    names = [f.name for f in infos]
    for v in vcf:
        gt = dp = gq = None
        if n_samples:
            gt = bcf_gt_from_cyvcf2(v.genotype.array())
            dp, gq = _cyvcf2_ints(v, "DP"), _cyvcf2_ints(v, "GQ")
        info = v.INFO
        yield Record(v.CHROM, v.POS, v.ID, v.REF, v.ALT or ["."], v.QUAL,
                     ";".join(v.FILTERS) if v.FILTERS else ".", [info.get(k) for k in names], gt, dp, gq)


def _cyvcf2_ints(v, key: str) -> np.ndarray | None:
    """An integer FORMAT field's first value per sample, or None when absent or not an integer."""
    try:
        arr = v.format(key)
    except KeyError:
        return None
    if arr is None or arr.dtype.kind not in "iu":
        return None
    return arr[:, 0] if arr.ndim == 2 else arr


def bcf_gt_from_cyvcf2(array: np.ndarray) -> np.ndarray:
    """cyvcf2's `genotype.array()` rows (alleles..., phased; -1 missing, -2 absent) as BCF-encoded pairs (int32).

    A polyploid call keeps its first two alleles (the genotypes table holds diploid text).
    """
    a1, phased = array[:, 0], array[:, -1]
    out = np.empty((len(array), 2), dtype=np.int32)  # int16 would wrap above allele 16,382
    out[:, 0] = (np.maximum(a1, -1) + 1) << 1
    if array.shape[1] <= 2:  # haploid: allele, phased
        out[:, 1] = ABSENT
    else:
        a2 = array[:, 1]
        out[:, 1] = np.where(a2 <= -2, ABSENT, ((np.maximum(a2, -1) + 1) << 1) | (phased != 0))
    return out


# ---------------------------------------------------------------------------------------------
# htslib's binary records (BCF)

_INT_FORMATS = {1: "<b", 2: "<h", 3: "<i"}
_SIZES = {0: 0, 1: 1, 2: 2, 3: 4, 5: 4, 7: 1}

_FLOAT_MISSING, _FLOAT_END = 0x7F800001, 0x7F800002
_CHAR, _FLOAT = 7, 5
# A per-sample integer (int8, int16) as int32 with htslib's missing and vector end made INT32_MISSING.
_NUMPY = {1: np.dtype("<i1"), 2: np.dtype("<i2"), 3: np.dtype("<i4")}
# By integer width in bytes: values at or below this are htslib's "missing" or "vector end"
# (int8 reserves -128 to -121, of which -128 and -127 are in use).
MISSING_FROM = {1: -127, 2: -32767, 4: INT32_MISSING + 1}
_INT_MIN = {code: MISSING_FROM[_SIZES[code]] - 1 for code in (1, 2, 3)}  # by type code: "missing"


class BcfDecoder:
    """Decodes records in htslib's binary form (`htslib.RawRecord`) into `Record`s."""

    def __init__(self, ids: HeaderIds, infos, n_samples: int):
        """`ids`: htslib's numbers for the header's names; `infos`: the INFO fields, in the order
        Record.info lists them."""
        self.n = n_samples
        self.contigs = ids.contigs
        self.filters = ids.filters
        order = {f.name: i for i, f in enumerate(infos)}
        flags = {f.name for f in infos if f.type == "Flag"}
        # INFO key -> (position in Record.info, declared as Flag)
        self.info_keys = {i: (order[name], name in flags) for i, name in ids.infos.items() if name in order}
        self.n_info = len(infos)
        self.formats = {i: name for i, name in ids.formats.items() if name in ("GT", "DP", "GQ")}

    def record(self, raw: RawRecord) -> Record:
        data, p, shared_end = raw.data, 0, raw.shared_length
        chrom = self.contigs.get(raw.rid)
        if chrom is None:
            raise BcfLayoutError(f"contig number {raw.rid} is not in the header")
        vid, p = _string(data, p)
        alleles = []
        for _ in range(raw.n_allele):
            allele, p = _string(data, p)
            alleles.append(allele)
        filter_ids, p = _typed(data, p)
        info = [None] * self.n_info
        keys = []
        for _ in range(raw.n_info):
            key, p = _typed_int(data, p)
            value, p = _info_value(data, p)
            keys.append(key)
            slot = self.info_keys.get(key)
            if slot is not None:
                position, is_flag = slot
                info[position] = is_flag if value is _FLAG else value
        if len(keys) > 1 and len(set(keys)) < len(keys):  # htslib keeps both; cyvcf2 reads the first
            raise BcfLayoutError("an INFO key given twice in one record")
        if p != shared_end:
            raise BcfLayoutError("the shared part of a record does not add up to its declared length")
        gt = dp = gq = None
        if self.n:
            if raw.n_sample != self.n:
                raise BcfLayoutError(f"a record with {raw.n_sample} samples, expected {self.n}")
            gt, dp, gq, p = self._calls(data, p, raw.n_fmt)
            if p != len(data):
                raise BcfLayoutError("the sample part of a record does not add up to its declared length")
        if filter_ids is None:
            filters = "."
        else:
            try:
                filters = ";".join(self.filters[i] for i in filter_ids)
            except KeyError:
                raise BcfLayoutError("a FILTER not in the header") from None
        qual = None if raw.qual_bits == _FLOAT_MISSING else struct.unpack("<f", raw.qual_bits.to_bytes(4, "little"))[0]
        return Record(chrom, raw.pos0 + 1, None if vid in ("", ".") else vid, alleles[0] if alleles else "",
                      alleles[1:] or ["."], qual, filters, info, gt, dp, gq)

    def _calls(self, data: bytes, p: int, n_fmt: int):
        n = self.n
        gt = dp = gq = None
        keys = set()
        for _ in range(n_fmt):
            key, p = _typed_int(data, p)
            if key in keys:  # htslib keeps both; cyvcf2 reads the first
                raise BcfLayoutError("a FORMAT key given twice in one record")
            keys.add(key)
            count, code, p = _count(data, p)
            size = _SIZES.get(code)
            if size is None:
                raise BcfLayoutError(f"unknown value type {code}")
            name = self.formats.get(key)
            if name is not None and count:
                if name == "GT":
                    if code not in (1, 2) or count > 2:  # int32 or polyploid: left to the sequential pass
                        raise BcfLayoutError(f"GT of type {code} with {count} alleles per sample")
                    gt = np.frombuffer(data, _NUMPY[code], n * count, p).reshape(n, count)
                elif code in _NUMPY:
                    values = np.frombuffer(data, _NUMPY[code], n * count, p)
                    if name == "DP":
                        dp = values[::count]
                    else:
                        gq = values[::count]
            p += n * count * size
        if gt is None:
            raise BcfLayoutError("a record without integer GT")
        return gt, dp, gq, p


def _typed_int(data: bytes, p: int) -> tuple[int, int]:
    """A typed integer (a type byte, then the value): the value and the offset after it."""
    code = data[p] & 0x0F
    fmt = _INT_FORMATS.get(code)
    if fmt is None:
        raise BcfLayoutError(f"expected a typed integer, found type {code}")
    return struct.unpack_from(fmt, data, p + 1)[0], p + 1 + _SIZES[code]


def _count(data: bytes, p: int) -> tuple[int, int, int]:
    descriptor = data[p]
    p += 1
    count, code = descriptor >> 4, descriptor & 0x0F
    if count == 15:
        count, p = _typed_int(data, p)
    return count, code, p


def _string(data: bytes, p: int) -> tuple[str, int]:
    count, code, p = _count(data, p)
    if count == 0:
        return "", p
    if code != _CHAR:
        raise BcfLayoutError(f"expected a string, found type {code}")
    try:
        return data[p:p + count].rstrip(b"\x00").decode(), p + count
    except UnicodeDecodeError:
        raise BcfLayoutError("a string that is not UTF-8") from None


def _typed(data: bytes, p: int) -> tuple[list[int] | None, int]:
    """A typed integer vector (FILTER): the values, or None when empty."""
    count, code, p = _count(data, p)
    if count == 0:
        return None, p
    fmt = _INT_FORMATS.get(code)
    if fmt is None:
        raise BcfLayoutError(f"expected integers, found type {code}")
    return list(struct.unpack_from(f"<{count}{fmt[1]}", data, p)), p + count * _SIZES[code]


_FLAG = object()  # an INFO key with no value: a flag (True only if the header declares a Flag)


def _info_value(data: bytes, p: int):
    """A typed INFO value as cyvcf2's INFO.get returns it, and the offset after it."""
    count, code, p = _count(data, p)
    size = _SIZES.get(code)
    if size is None:
        raise BcfLayoutError(f"unknown value type {code}")
    end = p + count * size
    if code == _CHAR:
        raw = data[p:end]
        if raw[:1] == b"\x07":
            return None, end
        try:
            return raw.decode(), end
        except UnicodeDecodeError:
            raise BcfLayoutError("a string that is not UTF-8") from None
    if count == 0:
        return _FLAG, end
    if code == _FLOAT:
        bits = struct.unpack_from(f"<{count}I", data, p)
        floats = struct.unpack_from(f"<{count}f", data, p)
        if count == 1:
            return (None if bits[0] == _FLOAT_MISSING else floats[0]), end
        values = []
        for b, f in zip(bits, floats):
            if b == _FLOAT_END:
                break
            values.append(None if b == _FLOAT_MISSING else f)
        return (tuple(values) or None), end
    fmt = _INT_FORMATS.get(code)
    if fmt is None:
        raise BcfLayoutError(f"unexpected INFO value type {code}")
    ints = struct.unpack_from(f"<{count}{fmt[1]}", data, p)
    missing = _INT_MIN[code]
    if count == 1:
        return (None if ints[0] == missing else ints[0]), end
    values = []
    for v in ints:
        if v == missing + 1:
            break
        values.append(None if v == missing else v)
    return (tuple(values) or None), end
