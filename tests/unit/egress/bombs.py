"""Files that are small on disk and huge once read, built by the tests (never kept as fixtures)."""

from __future__ import annotations

import gzip
import io


def dictionary_parquet(rows: int = 10_000, value_bytes: int = 1_000_000) -> bytes:
    """One text column whose dictionary holds a single long value that every row points at:
    about 500 bytes on disk, rows x value_bytes (10 GB by default) once decoded."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    column = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), pa.array(["x" * value_bytes]))
    buf = io.BytesIO()
    pq.write_table(pa.table({"note": column}), buf, compression="zstd")
    return buf.getvalue()


def long_parquet(rows: int = 30_000_000) -> bytes:
    """A highly compressible long column: about 100 KB on disk, tens of millions of values."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table({"n": pa.array(np.zeros(rows, dtype=np.int8))}), buf, compression="zstd")
    return buf.getvalue()


PHONE_LINES = b"visit 2024-01-15, call 010-1234-5678 about 900101-1234567\n"


def gzip_text(megabytes: int, line: bytes = PHONE_LINES) -> bytes:
    """Text that gzip packs a few hundred-fold: a small .gz that takes long to check once opened
    (every line is a candidate for the personal-information recognizers)."""
    block = line * (1_000_000 // len(line))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9, mtime=0) as gz:
        for _ in range(megabytes):
            gz.write(block)
    return out.getvalue()


def many_members_zip(members: int = 3000, content: bytes = b"sample SMP000777\n") -> bytes:
    """A small zip whose report is large: one member, and one finding, per entry."""
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(members):
            zf.writestr(f"part{i:05d}.txt", content)
    return out.getvalue()
