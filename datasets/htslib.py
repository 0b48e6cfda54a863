"""Debian's htslib (`libhts.so.3`, the library bcftools itself runs on), reached through ctypes.

The parallel ingest pass reads each contig of an indexed VCF here: htslib's tabix iterator hands
over a line of text, htslib's `vcf_parse` turns it into its in-memory record, whose two buffers
(`shared`: position, alleles, FILTER, INFO; `indiv`: the per-sample fields) are already laid out as
BCF specifies, and `vcf_records.BcfDecoder` decodes them. Nothing else is converted per record.

Why not pysam, as before: pysam's record objects can only be turned into bytes by writing them as
BCF (a scratch file, BGZF framing, a read back), and its bundled htslib inflates with zlib, where
Debian's uses libdeflate. Measured on 2,000 samples × 50,000 variants: 9.7 s of CPU for every record
parsed and copied out here, against 10.4 s for pysam's parse alone, before its write and read back.

The structures read here (`bcf1_t`, `kstring_t`, `tbx_t`) are part of htslib's public ABI, fixed
for `libhts.so.3` (htslib 1.10 and later). When the library is missing, `open_indexed` raises
`HtslibUnavailable` and the caller reads the file with its sequential pass instead.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator, NamedTuple

LIBRARY = "libhts.so.3"  # Debian package libhts3, installed with bcftools
_HTS_POS_MAX = ((2**31 - 1) << 32) | (2**31 - 1)
_BCF_DT_ID, _BCF_DT_CTG = 0, 1
_HTS_LOG_OFF = 0

c_int, c_void_p, c_char_p = ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p


class HtslibUnavailable(RuntimeError):
    """libhts.so.3 cannot be loaded (Debian: apt-get install libhts3)."""


class HtslibError(ValueError):
    """htslib refused a line or a block; the sequential pass says which and why."""


class _KString(ctypes.Structure):
    _fields_ = [("l", ctypes.c_size_t), ("m", ctypes.c_size_t), ("s", c_void_p)]


class _BcfDec(ctypes.Structure):  # bcf_dec_t: only its size matters here
    _fields_ = [("m", c_int * 7), ("flt", c_void_p), ("id", c_void_p), ("als", c_void_p),
                ("allele", c_void_p), ("info", c_void_p), ("fmt", c_void_p), ("var", c_void_p),
                ("n_var", c_int), ("var_type", c_int), ("shared_dirty", c_int), ("indiv_dirty", c_int)]


class _Bcf1(ctypes.Structure):  # bcf1_t
    _fields_ = [("pos", ctypes.c_int64), ("rlen", ctypes.c_int64), ("rid", ctypes.c_int32),
                ("qual", ctypes.c_uint32),  # a float, kept as its bits (missing is a NaN pattern)
                ("n_info_allele", ctypes.c_uint32), ("n_fmt_sample", ctypes.c_uint32),
                ("shared", _KString), ("indiv", _KString), ("d", _BcfDec),
                ("max_unpack", c_int), ("unpacked", c_int), ("unpack_size", c_int * 3), ("errcode", c_int)]


# htslib 1.10+ on x86-64 (checked against Debian's 1.16): a wrong layout here would read the wrong field.
assert ctypes.sizeof(_Bcf1) == 208 and _Bcf1.errcode.offset == 204


@lru_cache(maxsize=1)
def _library() -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL(LIBRARY)
    except OSError as exc:
        raise HtslibUnavailable(f"{LIBRARY} cannot be loaded ({exc}); install Debian's libhts3") from None
    for name, restype, argtypes in (
        ("hts_open", c_void_p, [c_char_p, c_char_p]),
        ("hts_close", c_int, [c_void_p]),
        ("hts_get_bgzfp", c_void_p, [c_void_p]),
        ("hts_set_log_level", None, [c_int]),
        ("bcf_hdr_read", c_void_p, [c_void_p]),
        ("bcf_hdr_destroy", None, [c_void_p]),
        ("bcf_hdr_id2int", c_int, [c_void_p, c_int, c_char_p]),
        ("bcf_init", ctypes.POINTER(_Bcf1), []),
        ("bcf_destroy", None, [ctypes.POINTER(_Bcf1)]),
        ("vcf_parse", c_int, [c_void_p, c_void_p, c_void_p]),
        ("tbx_index_load2", c_void_p, [c_char_p, c_char_p]),
        ("tbx_destroy", None, [c_void_p]),
        ("tbx_name2id", c_int, [c_void_p, c_char_p]),
        ("hts_itr_query", c_void_p, [c_void_p, c_int, ctypes.c_int64, ctypes.c_int64, c_void_p]),
        ("hts_itr_next", c_int, [c_void_p, c_void_p, c_void_p, c_void_p]),
        ("hts_itr_destroy", None, [c_void_p]),
    ):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


def available() -> bool:
    """Whether libhts.so.3 loads (the parallel ingest pass needs it)."""
    try:
        _library()
    except HtslibUnavailable:
        return False
    return True


@dataclass(frozen=True)
class HeaderIds:
    """htslib's numbers for the names a decoder meets in a record's binary form."""

    contigs: dict[int, str]
    filters: dict[int, str]
    infos: dict[int, str]
    formats: dict[int, str]


class RawRecord(NamedTuple):
    """One record in htslib's binary form: `data` is its BCF `shared` part (ID, alleles, FILTER,
    INFO) followed by its `indiv` part (FORMAT fields, each for every sample)."""

    rid: int  # contig number (HeaderIds.contigs)
    pos0: int  # 0-based
    qual_bits: int  # the float's bits: htslib's missing QUAL is a NaN that a float would not keep apart
    n_info: int
    n_allele: int
    n_fmt: int
    n_sample: int
    data: bytes
    shared_length: int


class IndexedVcf:
    """A bgzipped VCF with its tabix/CSI index, opened by htslib; use as a context manager."""

    def __init__(self, path: Path, index: Path | None):
        lib = self._lib = _library()
        lib.hts_set_log_level(_HTS_LOG_OFF)  # failures are reported by the caller's fallback, not on stderr
        self._fp = self._hdr = self._tbx = None
        self._rec = None
        if index is None:
            raise HtslibError(f"{path} has no up-to-date index")
        self._fp = lib.hts_open(os.fsencode(path), b"r")
        if not self._fp:
            raise HtslibError(f"htslib cannot open {path}")
        try:
            self._hdr = lib.bcf_hdr_read(self._fp)
            self._tbx = lib.tbx_index_load2(os.fsencode(path), os.fsencode(index))
            if not self._hdr or not self._tbx:
                raise HtslibError(f"htslib cannot read the header or the index of {path}")
            self._rec = lib.bcf_init()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> IndexedVcf:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        lib = self._lib
        if self._rec is not None:
            lib.bcf_destroy(self._rec)
            self._rec = None
        if self._tbx:
            lib.tbx_destroy(self._tbx)
            self._tbx = None
        if self._hdr:
            lib.bcf_hdr_destroy(self._hdr)
            self._hdr = None
        if self._fp:
            lib.hts_close(self._fp)
            self._fp = None

    def header_ids(self, contigs: list[str], filters: list[str], infos: list[str], formats: list[str]) -> HeaderIds:
        """The numbers htslib gave these header names (a name the header lacks is left out)."""
        def ids(kind: int, names: list[str]) -> dict[int, str]:
            found = {self._lib.bcf_hdr_id2int(self._hdr, kind, n.encode()): n for n in names}
            found.pop(-1, None)
            return found
        return HeaderIds(ids(_BCF_DT_CTG, contigs), ids(_BCF_DT_ID, ["PASS", *filters]),
                         ids(_BCF_DT_ID, infos), ids(_BCF_DT_ID, formats))

    def records(self, contig: str) -> Iterator[RawRecord]:
        """Each record of the contig, as htslib holds it.

        A line htslib cannot parse, or one using a tag or contig the header does not declare
        (htslib would make up a definition for it), raises HtslibError."""
        lib, rec = self._lib, self._rec
        tid = lib.tbx_name2id(self._tbx, contig.encode())
        if tid < 0:
            raise HtslibError(f"contig {contig} is not in the index")
        idx = c_void_p.from_address(self._tbx + _TBX_IDX_OFFSET).value
        itr = lib.hts_itr_query(idx, tid, 0, _HTS_POS_MAX, _function_address(lib, "tbx_readrec"))
        if not itr:
            raise HtslibError(f"htslib cannot find contig {contig} in the index")
        line = _KString()
        bgzf = lib.hts_get_bgzfp(self._fp)
        if not bgzf:
            lib.hts_itr_destroy(itr)
            raise HtslibError("the file is not BGZF-compressed")
        nxt, parse, string_at = lib.hts_itr_next, lib.vcf_parse, ctypes.string_at
        line_ref, hdr, tbx = ctypes.byref(line), self._hdr, self._tbx
        # vcf_parse flags a record using a tag or contig the header lacks (errcode), and adds a
        # made-up definition for it to the header; bcf_hdr_t starts with its dictionaries' sizes
        # (IDs, contigs, samples), so a size that grows is a second guard.
        sizes = (ctypes.c_int32 * 2).from_address(hdr)
        declared = sizes[0], sizes[1]
        r = rec.contents
        rec_address = ctypes.addressof(r)
        try:
            while True:
                status = nxt(bgzf, itr, line_ref, tbx)
                if status < 0:
                    if status == -1:
                        return
                    raise HtslibError(f"htslib could not read {contig} (a truncated or corrupt block?)")
                if parse(line_ref, hdr, rec_address) < 0 or r.errcode:
                    raise HtslibError(f"htslib refused a record of {contig} (error code {r.errcode})")
                if (sizes[0], sizes[1]) != declared:
                    raise HtslibError(f"a record of {contig} uses a tag or contig the header does not declare")
                shared, indiv = r.shared, r.indiv
                info_allele, fmt_sample = r.n_info_allele, r.n_fmt_sample
                # bcf1_t's bit fields, lowest bits first: n_info:16, n_allele:16 and n_fmt:8,
                # n_sample:24 (BCF on disk puts n_fmt in the top byte instead)
                yield RawRecord(r.rid, r.pos, r.qual, info_allele & 0xFFFF, info_allele >> 16,
                                fmt_sample & 0xFF, fmt_sample >> 8,
                                string_at(shared.s, shared.l) + string_at(indiv.s, indiv.l), shared.l)
        finally:
            lib.hts_itr_destroy(itr)
            if line.s:
                ctypes.CDLL(None).free(c_void_p(line.s))


_TBX_IDX_OFFSET = 24  # tbx_t: tbx_conf_t (six int32) then hts_idx_t *idx


def _function_address(lib: ctypes.CDLL, name: str) -> int:
    return ctypes.cast(getattr(lib, name), c_void_p).value
