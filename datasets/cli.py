"""The `cirn datasets ...` commands and `cirn project provision`; user errors become one line at this boundary."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

err_console = Console(stderr=True)
console = Console()


def _actor() -> str:
    from cirn.cli import actor
    return actor()


@contextmanager
def progress_bar(description: str, total: int | None = None, unit: str = ""):
    """Yield an `advance(n)` callable; the bar goes to stderr and disappears when not a terminal."""
    columns = [SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
               MofNCompleteColumn() if total else TextColumn("{task.completed:,} " + unit), TimeElapsedColumn()]
    with Progress(*columns, console=err_console, transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


def _ready(enclave) -> None:
    """Datasets commands work on a fresh state folder: make sure it and the database exist."""
    enclave.init()


def _record(enclave, action: str, subject: str, **details) -> None:
    from cirn import audit
    with enclave.db.session() as s:
        audit.record(s, _actor(), action, subject, **details)


def _published(enclave, dv, kind: str) -> None:
    m = dv.manifest
    _record(enclave, "dataset.published", dv.ref, kind=kind, source_project=m["provenance"]["source_project"],
            inputs=[{"name": i["name"], "sha256": i["sha256"]} for i in m["provenance"]["inputs"]],
            files=len(m["files"]))
    click.echo(f"published {dv.ref} ({kind}) at {dv.path}")


def register(main: click.Group) -> None:
    from cirn.cli import CirnGroup

    @main.group(cls=CirnGroup)
    def datasets() -> None:
        """The dataset catalog: ingest, register, QC, list, verify, withdraw, synthesise."""

    @datasets.group(cls=CirnGroup)
    def ingest() -> None:
        """Publish a new immutable dataset version from a clinical table or a VCF."""

    common = [
        click.option("--id", "dataset_id", required=True, help="Dataset id: lower-case letters, digits, '_' and '-'."),
        click.option("--version", "version", required=True, help="Version label, e.g. 1.0; an existing ID@V is refused."),
        click.option("--source-project", default=None, help="The source project the data comes from (provenance)."),
        click.option("--description", default="", help="One line saying what the dataset holds."),
    ]

    def with_common(f):
        for opt in reversed(common):
            f = opt(f)
        return f

    @ingest.command("clinical")
    @click.argument("file", type=click.Path(path_type=Path))
    @with_common
    @click.option("--dictionary", "dictionary_file", type=click.Path(exists=True, path_type=Path), default=None,
                  help="CSV describing columns: column, description, role (identifier|quasi-identifier|attribute), namespace.")
    @click.pass_obj
    def ingest_clinical_cmd(enclave, file, dataset_id, version, source_project, description, dictionary_file):
        """CSV, TSV or Excel FILE into Parquet, with inferred types and a data dictionary."""
        from .clinical import ingest_clinical
        _ready(enclave)
        dv = ingest_clinical(enclave.state, file, dataset_id, version, dictionary_file, source_project, description)
        _published(enclave, dv, "clinical")
        for c in dv.manifest["dictionary"]:
            click.echo(f"  {c['name']:<24} {c['type']:<8} {c['role']}" + (f" ({c['namespace']})" if c["namespace"] else ""))

    @ingest.command("vcf")
    @click.argument("file", type=click.Path(path_type=Path))
    @with_common
    @click.option("--no-qc", is_flag=True, help="Skip the QC run that is stored with the version.")
    @click.pass_obj
    def ingest_vcf_cmd(enclave, file, dataset_id, version, source_project, description, no_qc):
        """A bgzipped multi-sample VCF FILE into variants and genotypes Parquet tables (plus QC)."""
        from .vcf import ingest_vcf, record_total
        _ready(enclave)
        with progress_bar(f"ingesting {Path(file).name}", total=record_total(Path(file)),
                          unit="records") as advance:
            dv = ingest_vcf(enclave.state, file, dataset_id, version, source_project, advance,
                            enclave.policy.qc, run_qc=not no_qc, description=description)
        _published(enclave, dv, "vcf")
        m = dv.manifest
        click.echo(f"  {m['samples']} samples, {m['variants']} variants, {m['genotypes']} genotypes")
        if m.get("qc"):
            q = m["qc"]
            click.echo(f"  QC: {q['samples_failed']} of {q['samples']} samples and {q['variants_failed']} of "
                       f"{q['variants']} variants fail; report: {dv.path / 'qc' / 'report.html'}")

    @datasets.command("register")
    @click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
    @with_common
    @click.option("--kind", type=click.Choice(["fastq", "bam"]), required=True, help="What the files are.")
    @click.option("--samples", "mapping_file", type=click.Path(exists=True, path_type=Path), default=None,
                  help="TSV/CSV with columns file, sample[, participant] (default: BAM read groups, else file name).")
    @click.pass_obj
    def register_cmd(enclave, files, dataset_id, version, source_project, description, kind, mapping_file):
        """Register large FASTQ/BAM FILES (checksummed, counted, indexed; linked, not converted)."""
        from .register import register_files
        _ready(enclave)
        with progress_bar("registering", total=len(files)) as advance:
            dv = register_files(enclave.state, list(files), dataset_id, version, kind, mapping_file, source_project,
                                lambda _name: advance(1), description)
        _published(enclave, dv, kind)
        for e in dv.manifest["reads"]:
            click.echo(f"  {e['file']}: sample {e['sample']}, {e['reads']} reads, stored as {e['stored_as']}")

    @datasets.command("qc")
    @click.argument("ref")
    @click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
                  help="Folder for the QC table and report (default: ./qc-ID-V).")
    @click.option("--fail-on", type=click.Choice(["samples", "variants", "any"]), default=None,
                  help="Exit with status 1 if any sample / variant / either fails: QC as a gate.")
    @click.option("--clinical", "clinical_ref", default=None, metavar="ID@V",
                  help="Clinical dataset whose sex column the chrX sex check is compared with "
                       "(default: the clinical table of the catalog that covers most samples).")
    @click.pass_obj
    def qc_cmd(enclave, ref, out_dir, fail_on, clinical_ref):
        """Sample and variant QC of VCF dataset ID@V with the policy's thresholds."""
        from .catalog import Catalog
        from .qc import record_qc, run_qc_into
        catalog = Catalog(enclave.state)
        dv = catalog.resolve_ref(ref)
        if dv.kind != "vcf":
            raise click.UsageError(f"{dv.ref} is a {dv.kind} dataset; QC applies to VCF datasets")
        clinical = catalog.resolve_ref(clinical_ref) if clinical_ref else None
        out_dir = out_dir or Path(f"qc-{dv.dataset_id}-{dv.version}")
        with progress_bar(f"QC of {dv.ref}") as _:
            summary = run_qc_into(dv.path, out_dir, enclave.policy.qc, dv.ref, clinical)
        _ready(enclave)
        record_qc(enclave.state, dv, out_dir, summary)
        _record(enclave, "dataset.qc_run", dv.ref, samples_failed=summary["samples_failed"],
                variants_failed=summary["variants_failed"], sex_mismatches=summary["sex_mismatches"],
                clinical_sex=summary["clinical_sex"], out=str(out_dir))
        click.echo(f"{dv.ref}: {summary['samples_failed']} of {summary['samples']} samples and "
                   f"{summary['variants_failed']} of {summary['variants']} variants fail QC")
        click.echo(f"sex check: {summary['sex_mismatches']} sample(s) flagged sex-mismatch against "
                   f"{summary['clinical_sex']}" if summary["clinical_sex"] else
                   "sex check: no clinical table with a sex column covers these samples (see --clinical)")
        click.echo(f"QC tables and report in {out_dir} (open {out_dir / 'report.html'})")
        failed = {"samples": summary["samples_failed"], "variants": summary["variants_failed"],
                  "any": summary["samples_failed"] + summary["variants_failed"]}
        if fail_on and failed[fail_on]:
            sys.exit(1)

    @datasets.command("list")
    @click.pass_obj
    def list_cmd(enclave):
        """List published dataset versions."""
        from .catalog import Catalog
        table = Table("dataset", "version", "kind", "ingested", "source project", "size")
        for dv in Catalog(enclave.state).all_versions():
            m = dv.manifest
            size = sum(f["size"] for f in m.get("files", {}).values())
            table.add_row(dv.dataset_id, dv.version, m.get("kind", "?"), m["provenance"]["ingested_at"],
                          m["provenance"].get("source_project") or "", _human(size))
        console.print(table)

    @datasets.command("show")
    @click.argument("ref")
    @click.option("--json", "as_json", is_flag=True, help="Print the whole manifest as JSON.")
    @click.pass_obj
    def show_cmd(enclave, ref, as_json):
        """Show dataset ID[@V] (newest version if none is named)."""
        from .catalog import Catalog
        dv = Catalog(enclave.state).resolve_ref(ref)
        m = dv.manifest
        if as_json:
            click.echo(json.dumps(m, indent=2))
            return
        p = m["provenance"]
        click.echo(f"dataset:   {dv.ref}\nkind:      {m['kind']}\npath:      {dv.path}\n"
                   f"ingested:  {p['ingested_at']} by {p['tool_version']}\nsource:    {p.get('source_project') or '-'}")
        if m.get("description"):
            click.echo(f"about:     {m['description']}")
        for i in p["inputs"]:
            click.echo(f"input:     {i['name']} sha256={i['sha256']} ({_human(i['size'])})")
        for name, t in m.get("tables", {}).items():
            click.echo(f"table:     {name}: {t['file']} ({t['rows']} rows)")
        if m.get("qc"):
            q = m["qc"]
            click.echo(f"qc:        {q['samples_failed']}/{q['samples']} samples, {q['variants_failed']}/"
                       f"{q['variants']} variants fail; report {dv.path / 'qc' / 'report.html'}")
        if m.get("dictionary"):
            table = Table("column", "type", "role", "description")
            for c in m["dictionary"]:
                table.add_row(c["name"], c["type"], c["role"] + (f" ({c['namespace']})" if c.get("namespace") else ""),
                              c.get("description", ""))
            console.print(table)

    @datasets.command("verify")
    @click.argument("ref")
    @click.pass_obj
    def verify_cmd(enclave, ref):
        """Recompute every checksum of ID@V; exit 1 naming each file that changed."""
        from .catalog import Catalog
        catalog = Catalog(enclave.state)
        dv = catalog.resolve_ref(ref)
        n = len(dv.manifest.get("files", {}))
        with progress_bar(f"verifying {dv.ref}", total=n) as advance:
            problems = catalog.verify(dv, progress=lambda _rel: advance(1))
        if problems:
            for prob in problems:
                click.echo(f"changed: {prob}", err=True)
            click.echo(f"{dv.ref}: {len(problems)} file(s) differ from the manifest", err=True)
            sys.exit(1)
        click.echo(f"{dv.ref}: all {n} files match their checksums")

    @datasets.command("withdraw")
    @click.argument("participant")
    @click.option("--reason", default=None, help="Why (e.g. the consent withdrawal form's reference).")
    @click.option("--no-reprovision", is_flag=True,
                  help="Only record it (e.g. to batch several); extracts keep the data until rebuilt later.")
    @click.pass_obj
    def withdraw_cmd(enclave, participant, reason, no_reprovision):
        """Record PARTICIPANT's consent withdrawal and rebuild every project's extracts without them."""
        from .extracts import reprovision_all
        from .withdrawals import known_anywhere, withdraw
        _ready(enclave)
        hits = known_anywhere(enclave.state, participant)
        with enclave.db.session() as s:
            withdraw(s, _actor(), participant, reason)
        if not hits:
            click.echo(f"warning: {participant!r} is in no published dataset; recorded anyway", err=True)
        click.echo(f"{participant} withdrawn" + (f" (found in {', '.join(hits)})" if hits else ""))
        if no_reprovision:
            from cirn.projects import list_projects
            with enclave.db.session() as s:
                slugs = [p.slug for p in list_projects(s)]
            if slugs:
                click.echo(f"warning: not re-provisioned: {', '.join(slugs)} keep {participant}'s data until each is "
                           "rebuilt (`cirn project provision SLUG`, or the next withdrawal without --no-reprovision)",
                           err=True)
        else:
            result = reprovision_all(enclave, _actor())
            click.echo(f"re-provisioned {len(result.done)} project(s): {', '.join(result.done) or '-'}")
            if result.unreached:
                _report_unreached(result)
                sys.exit(1)

    @datasets.command("synth")
    @click.option("--participants", type=click.IntRange(1), default=200, show_default=True)
    @click.option("--variants", type=click.IntRange(1), default=5000, show_default=True)
    @click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True, help="Folder to write into.")
    @click.option("--seed", type=int, default=20261129, show_default=True, help="Same seed, same files.")
    def synth_cmd(participants, variants, out_dir, seed):
        """Write a deterministic synthetic rare-disease cohort (clinical.csv, cohort.vcf.gz + .tbi)."""
        from .synth import synthesise
        with progress_bar("synthesising", total=variants) as advance:
            out = synthesise(out_dir, participants, variants, seed, advance)
        click.echo(f"wrote {out.clinical} ({out.participants} participants) and {out.vcf} ({out.variants} variants)")

    @datasets.command("pseudonym")
    @click.argument("slug")
    @click.argument("identifier")
    @click.option("--namespace", default="participant", show_default=True,
                  help="participant, sample or family (as in the data dictionary).")
    @click.pass_obj
    def pseudonym_cmd(enclave, slug, identifier, namespace):
        """Print IDENTIFIER's pseudonym in project SLUG (admin only: reads the project's key)."""
        from .pseudonyms import project_key, pseudonym
        click.echo(pseudonym(project_key(enclave.state, slug, create=False), namespace, identifier))
        _ready(enclave)
        _record(enclave, "dataset.pseudonym_looked_up", slug, namespace=namespace)

    @datasets.command("reidentify")
    @click.argument("slug")
    @click.argument("pseudonym_value", metavar="PSEUDONYM")
    @click.pass_obj
    def reidentify_cmd(enclave, slug, pseudonym_value):
        """Find the source identifier behind PSEUDONYM of project SLUG (admin only; audited)."""
        from .reidentify import reidentify
        found = reidentify(enclave.state, slug, pseudonym_value)
        _ready(enclave)
        _record(enclave, "dataset.reidentified", slug, pseudonym=pseudonym_value, found=bool(found))
        if not found:
            click.echo(f"{pseudonym_value} matches no identifier of any published dataset", err=True)
            sys.exit(1)
        for namespace, value, where in found:
            click.echo(f"{value} ({namespace}, in {where})")

    project = main.commands["project"]

    @project.command("provision")
    @click.argument("slug")
    @click.pass_obj
    def provision_cmd(enclave, slug):
        """Build project SLUG's extracts from its grants (granted columns only, pseudonymised, read-only)."""
        from .extracts import provision_project
        with progress_bar(f"provisioning {slug}") as advance:
            built = provision_project(enclave, slug, _actor(), progress=lambda _ref: advance(1))
        for e in built:
            left_out = ([f"{e.removed} withdrawn removed"] if e.removed else []) + (
                [f"{e.qc_excluded} sample(s) left out: failed {e.qc_source}"] if e.qc_excluded else []) + (
                [f"{e.variants_dropped} variant(s) only they carry dropped"] if e.variants_dropped else [])
            click.echo(f"{e.dataset_id}@{e.version}: {e.rows} rows at {e.path}"
                       + (f" ({'; '.join(left_out)})" if left_out else ""))
        click.echo(f"project {slug} provisioned with {len(built)} extract(s)")


def _report_unreached(result) -> None:
    """Name the projects a withdrawal could not reach, what was done about them, and how to finish."""
    click.echo(f"error: {len(result.unreached)} project(s) could not be re-provisioned and still hold the "
               "withdrawn participant's data:", err=True)
    for slug, error in result.unreached.items():
        state = "suspended now" if slug in result.suspended else "left as it was (not active)"
        stopped = "" if result.stopped is None else f", {len(result.stopped.get(slug, []))} server(s) stopped"
        click.echo(f"  {slug}: {state}{stopped}; failed: {error}", err=True)
    if result.stopped is None:
        click.echo("no Docker engine answered: the reconciler stops their servers on its next pass", err=True)
    click.echo("fix the cause, then run for each:", err=True)
    for slug in result.unreached:
        click.echo(f"  {result.retry_command(slug)}", err=True)


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)
