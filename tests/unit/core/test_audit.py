import multiprocessing
import os

from sqlalchemy import delete, select, update

from cirn import audit
from cirn.enclave import Enclave
from cirn.models import AuditEvent, AuditHead, utcnow


def write(enclave, n=5):
    with enclave.db.session() as s:
        for i in range(n):
            audit.record(s, "tester", "thing.done", f"item-{i}", n=i)


def problem_of(enclave):
    with enclave.db.session() as s:
        return audit.verify(s)


def test_intact_chain_verifies(enclave):
    write(enclave)
    assert problem_of(enclave) is None


def test_events_are_macs_and_anchored(enclave):
    write(enclave, 3)
    with enclave.db.session() as s:
        events = s.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all()
    assert {e.version for e in events} == {2}
    # Not the plain SHA-256 of the content: a database writer cannot recompute it.
    assert all(e.hash != audit.event_hash(e.seq, e.at, e.actor, e.action, e.subject, e.details, e.prev_hash)
               for e in events)
    anchor = enclave.state.audit_anchor
    assert anchor.read_text().splitlines()[1:] == [f"{e.seq} {e.hash}" for e in events]
    assert oct(anchor.stat().st_mode & 0o777) == "0o600"


def test_edited_event_is_named(enclave):
    write(enclave)
    with enclave.db.session() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(subject="item-x"))
    problem = problem_of(enclave)
    assert problem.seq == 3 and "edited" in problem.reason


def test_removed_event_is_named(enclave):
    write(enclave)
    with enclave.db.session() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == 2))
    problem = problem_of(enclave)
    assert problem.seq == 2 and "missing" in problem.reason


def test_removed_last_event_is_noticed(enclave):
    write(enclave)
    with enclave.db.session() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq == 5))
    assert problem_of(enclave).seq == 5


def test_cut_off_end_with_head_moved_back_is_noticed(enclave):
    """Tampering 1: delete the last events and move the head to the new last one."""
    write(enclave)
    with enclave.db.session() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq > 3))
        third = s.get(AuditEvent, 3)
        s.execute(update(AuditHead).values(seq=3, hash=third.hash))
    problem = problem_of(enclave)
    assert problem.seq == 4 and "anchor records the log up to event 5" in problem.reason
    # Writing on afterwards does not hide it: event 4 is anchored twice with different MACs.
    write(enclave, 2)
    problem = problem_of(enclave)
    assert problem.seq == 4 and "differs from the anchored one" in problem.reason


def rechain_sha256(session, start: int, version: int, end: int = 10**9) -> None:
    """What a database writer can do without the key: recompute the chain from `start` in SHA-256."""
    prev = session.get(AuditEvent, start - 1).hash if start > 1 else audit.GENESIS
    for e in session.execute(select(AuditEvent).where(AuditEvent.seq >= start, AuditEvent.seq <= end)
                             .order_by(AuditEvent.seq)).scalars():
        e.version, e.prev_hash = version, prev
        e.hash = prev = audit.event_hash(e.seq, e.at, e.actor, e.action, e.subject, e.details, prev)
    session.execute(update(AuditHead).values(hash=prev, version=version))


def test_rechained_edited_event_is_noticed(enclave):
    """Tampering 2: edit an event and recompute every hash from it to the head."""
    write(enclave)
    for version in (2, 1):
        with enclave.db.session() as s:
            s.get(AuditEvent, 3).subject = "item-x"
            rechain_sha256(s, 3, version)
        problem = problem_of(enclave)
        assert problem.seq == 3, (version, problem)
    # Downgrading the whole log to version 1 makes it consistent in the database alone; the
    # anchor still holds the real MACs.
    with enclave.db.session() as s:
        rechain_sha256(s, 1, 1)
    problem = problem_of(enclave)
    assert problem.seq == 1 and "differs from the anchored one" in problem.reason


def test_wiped_log_is_noticed(enclave):
    """Tampering 3: delete every event and the head."""
    write(enclave)
    with enclave.db.session() as s:
        s.execute(delete(AuditEvent))
        s.execute(delete(AuditHead))
    problem = problem_of(enclave)
    assert problem.seq == 1 and "cut off or wiped" in problem.reason


def test_missing_anchor_fails(enclave):
    write(enclave, 2)
    enclave.state.audit_anchor.unlink()
    problem = problem_of(enclave)
    assert "anchor file" in problem.reason and "missing" in problem.reason


def test_rolled_back_event_is_not_anchored(enclave):
    write(enclave, 2)
    try:
        with enclave.db.session() as s:
            audit.record(s, "tester", "thing.failed", "item-x")
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    write(enclave, 1)
    assert problem_of(enclave) is None
    assert len(enclave.state.audit_anchor.read_text().splitlines()) == 1 + 3


def test_torn_last_anchor_line_is_ignored(enclave):
    write(enclave, 2)
    with open(enclave.state.audit_anchor, "a") as f:
        f.write("3 abc")  # a crash in the middle of a write
    assert problem_of(enclave) is None


def test_session_without_seal_is_refused(enclave):
    from cirn.db import Database
    import pytest
    with Database(enclave.db_url).session() as s, pytest.raises(audit.AuditUnsealed):
        audit.record(s, "tester", "thing.done", "item")


def test_log_written_before_version_2_is_sealed_by_init(tmp_path):
    """Migration path: version-1 events stay; `cirn init` appends a signed checkpoint after them."""
    e = Enclave.from_env({"CIRN_HOME": str(tmp_path / "home")})
    e.init()
    # What the old code wrote: plain SHA-256, version 1, no anchor.
    with e.db.session() as s:
        prev = audit.GENESIS
        for seq in (1, 2, 3):
            ev = AuditEvent(seq=seq, at=utcnow(), actor="old", action="thing.done", subject=f"item-{seq}",
                            details="{}", prev_hash=prev, version=1)
            ev.hash = prev = audit.event_hash(seq, ev.at, ev.actor, ev.action, ev.subject, ev.details, prev)
            s.add(ev)
        s.add(AuditHead(id=1, seq=3, hash=prev, version=1))
    e.state.audit_anchor.unlink()
    assert "run `cirn init`" in problem_of(e).reason
    e.init()
    e.init()  # idempotent: one checkpoint
    assert problem_of(e) is None
    with e.db.session() as s:
        checkpoint = s.get(AuditEvent, 4)
        assert (checkpoint.action, checkpoint.version, s.get(AuditEvent, 5)) == (audit.SEALED, 2, None)
        assert checkpoint.prev_hash == prev
    write(e, 1)
    assert problem_of(e) is None
    # From the checkpoint on, rewriting a legacy event breaks the chain at the checkpoint.
    with e.db.session() as s:
        s.get(AuditEvent, 2).subject = "item-x"
        rechain_sha256(s, 2, 1, end=3)
        s.execute(update(AuditHead).values(seq=5, hash=s.get(AuditEvent, 5).hash, version=2))
    problem = problem_of(e)
    assert problem.seq == 4 and "does not follow" in problem.reason


def _writer(home: str, n: int) -> None:
    enclave = Enclave.from_env({"CIRN_HOME": home})
    for i in range(n):
        with enclave.db.session() as s:
            audit.record(s, f"writer-{os.getpid()}", "thing.done", f"item-{i}")


def test_concurrent_writers_keep_chain_and_anchor_whole(enclave):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(enclave.state.root), 25)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    assert problem_of(enclave) is None
    seqs = sorted(int(line.split()[0]) for line in enclave.state.audit_anchor.read_text().splitlines()[1:])
    assert seqs == list(range(1, 101))


def test_export_csv_has_every_event(enclave):
    write(enclave, 3)
    with enclave.db.session() as s:
        text = audit.export_csv(s)
    assert text.splitlines()[0].startswith("seq,at,actor,action")
    assert len(text.strip().splitlines()) == 4
