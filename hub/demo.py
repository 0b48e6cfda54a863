"""The demo enclave: synthetic datasets, two projects, local accounts, a sample data-access
application waiting for the committees, built images.

Idempotent: running it again keeps what exists (datasets are immutable, accounts keep their
passwords) and only adds what is missing.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from cirn import projects
from cirn.datasets.catalog import Catalog
from cirn.enclave import Enclave
from cirn.errors import NotFound

ACTOR = "admin:demo"
CLINICAL_ID, GENOTYPES_ID, VERSION = "rd-clinical", "rd-genotypes", "1.0"
PROJECTS = [
    {"slug": "rare-disease-pilot", "title": "Rare disease pilot: variant burden by diagnosis",
     "members": ["alice", "bob"], "grants": {CLINICAL_ID: None, GENOTYPES_ID: None}},
    {"slug": "cohort-followup", "title": "Cohort follow-up: age at diagnosis by region",
     "members": ["carol"],
     "grants": {CLINICAL_ID: ["participant_id", "age", "sex", "region", "diagnosis", "diagnosis_date"]}},
]
# name, hub admin, groups
ACCOUNTS = [("alice", False, ["researchers"]), ("bob", False, ["researchers"]), ("carol", False, ["researchers"]),
            ("rita", False, ["egress-reviewers"]), ("ravi", False, ["egress-reviewers"]),
            ("dana", False, ["distribution-committee"]), ("remy", False, ["research-committee"]),
            ("admin", True, ["enclave-admins"])]


def _ensure_datasets(enclave: Enclave, progress) -> None:
    from cirn.datasets.clinical import ingest_clinical
    from cirn.datasets.synth import synthesise
    from cirn.datasets.vcf import ingest_vcf

    catalog = Catalog(enclave.state)

    def published(ds: str) -> bool:
        try:
            catalog.resolve(ds, VERSION)
            return True
        except NotFound:
            return False

    if published(CLINICAL_ID) and published(GENOTYPES_ID):
        progress("demo datasets present")
        return
    source = enclave.state.root / "demo-source"
    progress("synthesising a rare-disease cohort (300 participants, 3,000 variants)")
    out = synthesise(source, participants=300, variants=3000)
    from cirn import audit

    def audited(dv, kind: str) -> None:
        # The library publishes; the audit event is the caller's, as in `cirn datasets ingest`.
        with enclave.db.session() as s:
            audit.record(s, ACTOR, "dataset.published", f"{dv.dataset_id}@{dv.version}", kind=kind,
                         source_project="demo-synthetic", files=len(dv.manifest["files"]))

    if not published(CLINICAL_ID):
        audited(ingest_clinical(enclave.state, out.clinical, CLINICAL_ID, VERSION, source_project="demo-synthetic",
                                description="Synthetic rare-disease cohort: clinical table"), "clinical")
    if not published(GENOTYPES_ID):
        audited(ingest_vcf(enclave.state, out.vcf, GENOTYPES_ID, VERSION, source_project="demo-synthetic",
                           description="Synthetic rare-disease cohort: genotypes"), "vcf")
    progress(f"published {CLINICAL_ID}@{VERSION} and {GENOTYPES_ID}@{VERSION}")


def _ensure_projects(enclave: Enclave, progress) -> None:
    from cirn.datasets.extracts import provision_project

    expires = dt.date.today() + dt.timedelta(days=365)
    for spec in PROJECTS:
        with enclave.db.session() as s:
            try:
                project = projects.get_project(s, spec["slug"])
            except NotFound:
                project = projects.create_project(s, ACTOR, spec["slug"], spec["title"], expires)
            have = {m.username for m in project.members}
            for member in spec["members"]:
                if member not in have:
                    projects.add_member(s, ACTOR, spec["slug"], member)
            granted = {g.dataset_id for g in project.grants}
            for ds, cols in spec["grants"].items():
                if ds not in granted:
                    projects.grant(s, ACTOR, spec["slug"], ds, VERSION, cols)
        enclave.state.create_workspace(spec["slug"])
        provision_project(enclave, spec["slug"], ACTOR)
        progress(f"project {spec['slug']} ready: members {', '.join(spec['members'])}")


def _ensure_accounts(enclave: Enclave, progress) -> dict[str, str]:
    from .auth import new_password, set_account

    path: Path = enclave.state.secrets / "demo-accounts.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    with enclave.db.session() as s:
        for name, admin, groups in ACCOUNTS:
            if name not in known:
                known[name] = new_password()
                set_account(s, ACTOR, name, known[name], admin, groups)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(known, indent=1))
    tmp.chmod(0o600)
    tmp.rename(path)
    return known


def _ensure_sample_application(enclave: Enclave, progress) -> None:
    from .applications.samples import SAMPLE_APPLICATION, sample_application

    app_id, state, created = sample_application(enclave, ACTOR)
    spec = SAMPLE_APPLICATION
    where = f"sample application {app_id} ({spec['project_slug']}, by {spec['applicant']})"
    if state == "in_review":
        progress(f"{where} {'submitted, now' if created else 'is'} in committee review: log in as dana or remy "
                 "and open Data-access applications on the hub home page")
    else:
        progress(f"{where} is {state.replace('_', ' ')}")


def prepare_demo(enclave: Enclave, progress=print, build_images: bool = True) -> dict[str, str]:
    enclave.init()
    if build_images:
        from cirn.images.build import build_all
        build_all(progress=lambda m: progress(f"images: {m}"))
    _ensure_datasets(enclave, progress)
    _ensure_projects(enclave, progress)
    accounts = _ensure_accounts(enclave, progress)
    _ensure_sample_application(enclave, progress)
    progress("demo accounts (also in secrets/demo-accounts.json):")
    for name, admin, groups in ACCOUNTS:
        progress(f"  {name:<6} {accounts[name]}   {', '.join(groups)}" + ("   (hub admin)" if admin else ""))
    return accounts
