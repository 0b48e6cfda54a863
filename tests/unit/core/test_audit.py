from sqlalchemy import delete, update

from cirn import audit
from cirn.models import AuditEvent


def write(enclave, n=5):
    with enclave.db.session() as s:
        for i in range(n):
            audit.record(s, "tester", "thing.done", f"item-{i}", n=i)


def test_intact_chain_verifies(enclave):
    write(enclave)
    with enclave.db.session() as s:
        assert audit.verify(s) is None


def test_edited_event_is_named(enclave):
    write(enclave)
    with enclave.db.session() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(subject="item-x"))
    with enclave.db.session() as s:
        problem = audit.verify(s)
    assert problem.seq == 3 and "edited" in problem.reason


def test_removed_event_is_named(enclave):
    write(enclave)
    with enclave.db.session() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == 2))
    with enclave.db.session() as s:
        problem = audit.verify(s)
    assert problem.seq == 2 and "missing" in problem.reason


def test_removed_last_event_is_noticed(enclave):
    write(enclave)
    with enclave.db.session() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == 5))
    with enclave.db.session() as s:
        assert audit.verify(s).seq == 5


def test_export_csv_has_every_event(enclave):
    write(enclave, 3)
    with enclave.db.session() as s:
        text = audit.export_csv(s)
    assert text.splitlines()[0].startswith("seq,at,actor,action")
    assert len(text.strip().splitlines()) == 4
