"""How large a Parquet file becomes once read, measured before it is read, against the policy's cap.

A Parquet file of a few hundred bytes can hold a 1 MB string in its dictionary and ten thousand
rows pointing at it: 10 GB once decoded, and the footer's uncompressed sizes (which count the
dictionary once) do not show it. So the footer's counts are checked first (values and
uncompressed bytes), then string columns are read as dictionaries, which keeps the indices and
not the decoded values, and the decoded length is added up from them.
"""

from __future__ import annotations

import io

from cirn.policies.egress_rules import TableLimits


def parquet_oversize(data: bytes, limits: TableLimits) -> str | None:
    """Why reading this Parquet file would pass the limits, or None when it stays within them.
    A file whose footer cannot be read returns None: the reader reports it as unreadable."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(io.BytesIO(data))
        meta = pf.metadata
    except Exception:
        return None
    values = stored = 0
    nested_dictionary_bound = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            chunk = group.column(c)
            values += chunk.num_values
            stored += chunk.total_uncompressed_size
            if "." in chunk.path_in_schema and chunk.has_dictionary_page:
                # nested values cannot be read as dictionaries: bound each by the whole chunk
                nested_dictionary_bound += chunk.num_values * chunk.total_uncompressed_size
    if values > limits.max_cells:
        return f"it holds {values} values (the cap is {limits.max_cells})"
    if max(stored, nested_dictionary_bound) > limits.max_expanded_bytes:
        return f"it expands to more than {limits.max_expanded_bytes} bytes when read"
    # by the stored (physical) type: the Arrow schema kept in the file may call them dictionaries
    strings = [col.path for col in pf.schema if col.physical_type == "BYTE_ARRAY"
               and "." not in col.path]
    if not strings:
        return None
    try:
        table = pq.ParquetFile(io.BytesIO(data), read_dictionary=strings).read(columns=strings)
    except Exception:
        return None
    decoded = _decoded_bytes(table)
    if decoded + stored > limits.max_expanded_bytes:
        return f"its text columns decode to {decoded} bytes (the cap is {limits.max_expanded_bytes})"
    return None


def _decoded_bytes(table) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc

    total = 0
    for column in table.columns:
        for chunk in column.chunks:
            if pa.types.is_dictionary(chunk.type):
                lengths = pc.binary_length(chunk.dictionary)
                total += pc.sum(pc.take(lengths, chunk.indices)).as_py() or 0
            else:
                total += chunk.nbytes
    return total
