"""What a Parquet file says besides its rows: key-value metadata of the file (pandas' and any
other), the Arrow schema's field names and per-field metadata (nested fields too), the writer's
name, and each column chunk's statistics (min/max are written by the writer, not derived by the
reader, so they can hold values no row has). All of it is text for the checks."""

from __future__ import annotations

import io

ARROW_SCHEMA_KEY = b"ARROW:schema"  # base64 of the Arrow schema: read through pyarrow's parse of it


def _text(value) -> str:
    if isinstance(value, bytes):
        from .decoding import decode_metadata
        return decode_metadata(value)
    return str(value)


def _fields(fields, prefix: str = ""):
    for field in fields:
        name = f"{prefix}{field.name}"
        yield name, field
        inner = getattr(field.type, "value_field", None)
        children = [inner] if inner is not None else []
        if hasattr(field.type, "num_fields") and not children:
            children = [field.type.field(i) for i in range(field.type.num_fields)]
        yield from _fields(children, f"{name}.")


def parquet_metadata_texts(data: bytes) -> list[tuple[str, str, bool]]:
    """(location, text, hidden) for the metadata of a Parquet file; [] if its footer cannot be
    read (the table reader reports that)."""
    import pyarrow.parquet as pq
    try:
        pf = pq.ParquetFile(io.BytesIO(data))
        meta = pf.metadata
        schema = pf.schema_arrow
    except Exception:  # pyarrow raises several types for a damaged footer
        return []
    texts: list[tuple[str, str, bool]] = []
    for key, value in (meta.metadata or {}).items():
        if key != ARROW_SCHEMA_KEY:
            texts.append((f"file metadata '{_text(key)[:40]}'", f"{_text(key)}\n{_text(value)}", True))
    names = []
    for name, field in _fields(schema):
        names.append(name)
        for key, value in (field.metadata or {}).items():
            texts.append((f"metadata of field '{name}'", f"{_text(key)}\n{_text(value)}", True))
    texts.append(("field names", "\n".join(names), False))
    if meta.created_by:
        texts.append(("file metadata 'created_by'", meta.created_by, True))
    stats = []
    for rg in range(meta.num_row_groups):
        group = meta.row_group(rg)
        for ci in range(group.num_columns):
            st = group.column(ci).statistics
            if st is not None and st.has_min_max and isinstance(st.min, (str, bytes)):
                stats.append(f"{_text(st.min)}\n{_text(st.max)}")
    texts.append(("column statistics", "\n".join(stats), True))
    return [t for t in texts if t[1].strip()]
