"""Sample inputs for the demo and the tests: a small valid PDF, a tiny clinical table, and the
demo's sample application (submitted, with generated PDFs, waiting for both committees)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from cirn import audit
from cirn.enclave import Enclave
from cirn.policies.application_rules import IRB, ApplicationPolicy, load_application_policy

from .documents import check_document, store_bytes
from .models import Application
from .workflow import Actor, add_document, create_application, sign_pledge, submit, update_application


def minimal_pdf(text: str = "IRB approval notice") -> bytes:
    """A one-page PDF showing `text`, with a correct cross-reference table."""
    safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 18 Tf 72 720 Td ({safe}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


CLINICAL_CSV = "participant_id,age,sex,diagnosis,hpo_terms\n" + "".join(
    f"P{i:04d},{20 + i % 50},{'F' if i % 2 else 'M'},{['RD1', 'RD2', 'RD3'][i % 3]},HP:{i:07d}\n" for i in range(40))


# The demo's sample application: a researcher asks for part of the demo's clinical dataset for a
# project that does not exist yet, so the committees (dana, remy) have something to decide on.
SAMPLE_APPLICATION = {
    "applicant": "bob", "applicant_name": "Bob Martin", "members": ["carol"],
    "project_slug": "onset-by-region", "title": "Age at diagnosis by region (sample application)",
    "purpose": "Describe how age at diagnosis of rare diseases varies between regions, to plan where "
               "specialist clinics are needed.",
    "research_plan": "Counts and median age at diagnosis per diagnosis and region; no linkage with other data.",
    "infrastructure": "CIRN enclave notebooks only (DuckDB, pandas); no data leaves the enclave.",
    "data_use_plan": "Only aggregate tables with counts of ten or more leave, through egress review.",
    "datasets": [{"dataset": "rd-clinical", "version": "1.0",
                  "columns": ["participant_id", "age", "region", "diagnosis", "diagnosis_date"]}],
    "irb_number": "IRB-DEMO-0001", "days": 365, "irb_days": 300,
}


def sample_application(enclave: Enclave, actor: str, policy: ApplicationPolicy | None = None,
                       today: dt.date | None = None, spec: dict = SAMPLE_APPLICATION) -> tuple[int, str, bool]:
    """Submit `spec` as its applicant would: the form, a generated PDF for every required
    document, the signed pledge. Returns (application id, its state, created); an application for the same
    project name is kept as it is, whatever its state, so running the demo again changes nothing.

    The workflow's events name the applicant, as if they had applied; one more event, by `actor`,
    records that the demo wrote it for them.
    """
    policy = policy or load_application_policy(environ=enclave.environ)
    today = today or dt.date.today()
    from cirn.datasets.catalog import Catalog

    with enclave.db.session() as s:
        existing = s.execute(select(Application).where(Application.project_slug == spec["project_slug"])
                             .order_by(Application.id)).scalars().first()
        if existing is not None:
            return existing.id, existing.state.value, False
        applicant = Actor(spec["applicant"])
        app = create_application(s, applicant, spec["project_slug"], spec["title"])
        update_application(s, app, applicant, purpose=spec["purpose"], research_plan=spec["research_plan"],
                           infrastructure=spec["infrastructure"], data_use_plan=spec["data_use_plan"],
                           requested_start=today, requested_end=today + dt.timedelta(days=spec["days"]),
                           members=spec["members"], datasets=spec["datasets"])
        for doc in policy.required_documents:
            content = minimal_pdf(f"{doc.title}: {spec['title']} (sample)")
            filename = f"{doc.id}.pdf"
            check_document(policy, doc.id, filename, content)
            irb = ({"irb_number": spec["irb_number"], "irb_expires": today + dt.timedelta(days=spec["irb_days"])}
                   if doc.id == IRB else {})
            add_document(s, app, applicant, doc.id, filename, store_bytes(enclave.state, content), **irb)
        sign_pledge(s, app, applicant, policy, spec["applicant_name"], policy.pledge.sha256)
        submit(s, app, applicant, policy, Catalog(enclave.state), today)
        audit.record(s, actor, "application.sample_created", app.subject, project=app.project_slug,
                     applicant=app.applicant)
        return app.id, app.state.value, True
