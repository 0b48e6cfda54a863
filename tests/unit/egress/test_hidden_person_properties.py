"""Property: a pseudonym or a per-person genotype line hidden in a randomly chosen container,
encoding, spelling and position never scans as `pass`."""

from __future__ import annotations

import base64
import bz2
import gzip
import io
import lzma
import tarfile
import zipfile

import nbformat
import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.comments import Comment

from cirn.datasets.pseudonyms import pseudonym
from cirn.egress.checks import scan_bytes

LISTED = "S-4KQ2M7Z3XW9D5HTA"  # in the conftest's identifier list
WORDS = ["cohort", "summary", "visit", "stable", "mean", "group", "환자", "추적", "관찰", "결과", "정상", "12", "40.5", "n=55"]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def person(draw) -> str:
    """The listed pseudonym or another project's (only its shape can tell), in some spelling."""
    if draw(st.booleans()):
        token = LISTED
    else:
        key = draw(st.binary(min_size=32, max_size=32))
        token = pseudonym(key, draw(st.sampled_from(["participant", "sample", "family"])), draw(st.text(min_size=1, max_size=8)))
    spelling = draw(st.sampled_from(["as is", "lower", "zero-width", "full-width"]))
    if spelling == "lower":
        token = token.lower()
    elif spelling == "zero-width":
        at = draw(st.integers(1, len(token) - 1))
        token = token[:at] + draw(st.sampled_from(ZERO_WIDTH)) + token[at:]
    elif spelling == "full-width":
        token = "".join(chr(ord(c) + 0xFEE0) for c in token)
    return token


@st.composite
def planted_text(draw) -> tuple[str, bool]:
    """Filler lines with a pseudonym, or a person's genotype line, at a random place; and whether
    it uses characters only UTF-8 and UTF-16 can write."""
    who = draw(person())
    secret = draw(st.sampled_from([f"excluded {who} from the analysis", f"{who} rs429358 C/T", f"{who}\trs7412\tCC"]))
    lines = [" ".join(draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=8))) for _ in range(draw(st.integers(0, 30)))]
    lines.insert(draw(st.integers(0, len(lines))), secret)
    return "\n".join(lines) + "\n", any(ch in who for ch in ZERO_WIDTH)


def _encode(text: str, encoding: str) -> bytes:
    return text.encode({"utf-16": "utf-16"}.get(encoding, encoding))


def _zip(files: dict[str, bytes], comment: bytes = b"") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.comment = comment
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _containers(text: str, data: bytes, draw) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["plain", "gzip streams", "bzip2 streams", "xz streams", "zip member", "zip comment",
                                 "tar pax", "xlsx comment", "parquet metadata", "notebook output", "notebook custom mime"]))
    clean = "group,n\nA,40\nB,55\n".encode()
    if kind == "plain":
        return "notes.txt", data
    if kind.endswith("streams"):
        compress = {"gzip": gzip.compress, "bzip2": bz2.compress, "xz": lzma.compress}[kind.split()[0]]
        streams = [compress(clean) for _ in range(draw(st.integers(0, 3)))]
        streams.insert(draw(st.integers(0, len(streams))), compress(data))
        return "summary.csv.gz", b"".join(streams)
    if kind == "zip member":
        return "out.zip", _zip({"table.csv": clean, draw(st.sampled_from(["notes.txt", "deep/er/notes.md"])): data})
    if kind == "zip comment":
        return "out.zip", _zip({"table.csv": clean}, comment=data[:65535])
    if kind == "tar pax":
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tf:
            info = tarfile.TarInfo("table.csv")
            info.size = len(clean)
            info.pax_headers = {draw(st.sampled_from(["comment", "CIRN.note"])): text}
            tf.addfile(info, io.BytesIO(clean))
        return "out.tar.gz", buf.getvalue()
    if kind == "xlsx comment":
        wb = openpyxl.Workbook()
        ws = wb.active
        for row in (["group", "n"], ["A", 40], ["B", 55]):
            ws.append(row)
        ws.cell(draw(st.integers(1, 3)), draw(st.integers(1, 2))).comment = Comment(text, "analyst")
        buf = io.BytesIO()
        wb.save(buf)
        return "book.xlsx", buf.getvalue()
    if kind == "parquet metadata":
        table = pa.table({"group": ["A", "B"], "n": [40, 55]})
        if draw(st.booleans()):
            table = table.replace_schema_metadata({"note": text})
        else:
            table = table.cast(pa.schema([pa.field("group", pa.string(), metadata={"source": text}), pa.field("n", pa.int64())]))
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return "table.parquet", buf.getvalue()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("summary()")
    if kind == "notebook output":
        cell.outputs = [nbformat.v4.new_output("stream", name=draw(st.sampled_from(["stdout", "stderr"])), text=text)]
    else:
        cell.outputs = [nbformat.v4.new_output("display_data", data={
            "application/x-report": base64.b64encode(data).decode(), "text/plain": "<Report>"})]
    nb.cells.append(cell)
    return "analysis.ipynb", nbformat.writes(nb).encode()


@SETTINGS
@given(st.data())
def test_a_hidden_person_never_passes(ctx, data):
    text, needs_unicode = data.draw(planted_text())
    encodings = ["utf-8", "utf-16"] + ([] if needs_unicode or "\uff00" <= max(text) else ["cp949"])
    encoding = data.draw(st.sampled_from(encodings))
    name, content = _containers(text, _encode(text, encoding), data.draw)
    reports = scan_bytes(content, name, ctx)
    verdict = max(r.verdict for r in reports)
    assert verdict.label != "pass", (name, encoding, text)
