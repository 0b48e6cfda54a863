"""Daily accounting of the bytes project servers send to browsers, and what passing a level does.

A server reports cumulative counts since it started, tagged with a random instance id; the
accounting adds only the growth over the highest counts seen for that instance, so a report
repeated, reordered or replayed with lower numbers changes nothing (counts only go up), and two
browser tabs on one server are counted once each, as the server sent them. Bytes land on the
hub's UTC day when they are reported, never on an earlier day than that instance already used,
so a clock that jumps back cannot reopen a past day. The levels apply to a user's total over all
their projects that day; passing the limit suspends the membership of the project that reported.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cirn import audit
from cirn.models import Member, MemberStatus, MeterAlert, MeterCounter, MeterUsage, Project
from cirn.policies.meter_rules import MeterPolicy
from cirn.projects import change_member_status

ACTOR = "service:cirn-meter"
# What the daily levels count; `static` (JupyterLab's own code, served from the read-only image)
# is reported so the hub can compare totals, but carries no data and is not counted.
COUNTED = ("http", "kernel", "terminal", "websocket")
KINDS = (*COUNTED, "static")
# The hub's cross-check: the container's own network interface (counted by the kernel, outside the
# researcher's reach) may send this much more than the server reported, for TCP/IP and websocket
# framing, the reports themselves and hub activity pings, before an admin is alerted.
NETWORK_RATIO = 1.25
NETWORK_SLACK = 1024 * 1024
INSTANCE_RE = re.compile(r"^[A-Za-z0-9-]{8,64}$")
MAX_BYTES = 1 << 60


class BadReport(ValueError):
    """A report whose shape is wrong; the message names the field."""


@dataclass(frozen=True)
class Report:
    instance: str
    seq: int
    sent: dict[str, int]


def parse_report(body: object) -> Report:
    """Validate a report body: {"instance": id, "seq": n, "sent": {kind: cumulative bytes}}."""
    if not isinstance(body, dict):
        raise BadReport("a report is a JSON object with instance, seq and sent")
    instance, seq, sent = body.get("instance"), body.get("seq", 0), body.get("sent")
    if not isinstance(instance, str) or not INSTANCE_RE.match(instance):
        raise BadReport("instance must be 8-64 letters, digits or '-'")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise BadReport("seq must be a non-negative integer")
    if not isinstance(sent, dict) or not sent:
        raise BadReport("sent must map kinds to byte counts")
    unknown = sorted(set(sent) - set(KINDS))
    if unknown:
        raise BadReport(f"unknown kind(s) {', '.join(unknown)} in sent; kinds are {', '.join(KINDS)}")
    for kind, value in sent.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_BYTES:
            raise BadReport(f"sent.{kind} must be a non-negative integer")
    return Report(instance, seq, dict(sent))


@dataclass
class Outcome:
    """What one report did: bytes added to the day, the user's total, and alerts it raised."""

    day: dt.date
    added: int
    user_total: int
    alerts: list[MeterAlert] = field(default_factory=list)
    suspended: bool = False


def _loads(text: str | None) -> dict[str, int]:
    return {k: int(v) for k, v in json.loads(text or "{}").items()}


def user_total(session: Session, username: str, day: dt.date) -> int:
    return int(session.execute(select(func.coalesce(func.sum(MeterUsage.counted), 0))
                               .where(MeterUsage.username == username, MeterUsage.day == day)).scalar_one())


def record_report(session: Session, username: str, project: str, report: Report, now: dt.datetime,
                  policy: MeterPolicy) -> Outcome:
    """Add a report's growth to the day's usage, then apply the policy's levels (in the caller's transaction)."""
    counter = session.execute(select(MeterCounter).where(
        MeterCounter.username == username, MeterCounter.project == project,
        MeterCounter.instance == report.instance).with_for_update()).scalar_one_or_none()
    day = now.date()
    if counter is None:
        counter = MeterCounter(username=username, project=project, instance=report.instance, day=day, sent="{}", seq=0)
        session.add(counter)
    elif counter.day > day:
        day = counter.day  # the clock went back: keep adding to the instance's latest day
    seen = _loads(counter.sent)
    growth = {k: max(0, v - seen.get(k, 0)) for k, v in report.sent.items()}
    counter.sent = json.dumps({k: max(seen.get(k, 0), report.sent.get(k, 0)) for k in set(seen) | set(report.sent)},
                              sort_keys=True)
    counter.seq, counter.day, counter.updated_at = max(counter.seq, report.seq), day, now
    usage = session.execute(select(MeterUsage).where(
        MeterUsage.username == username, MeterUsage.project == project, MeterUsage.day == day)
        .with_for_update()).scalar_one_or_none()
    if usage is None:
        usage = MeterUsage(username=username, project=project, day=day, counted=0, sent="{}", reports=0)
        session.add(usage)
    totals = _loads(usage.sent)
    for k, v in growth.items():
        totals[k] = totals.get(k, 0) + v
    added = sum(growth.get(k, 0) for k in COUNTED)
    usage.sent, usage.counted = json.dumps(totals, sort_keys=True), (usage.counted or 0) + added
    usage.reports, usage.updated_at = (usage.reports or 0) + 1, now
    session.flush()
    outcome = Outcome(day, added, user_total(session, username, day))
    apply_levels(session, username, project, outcome, now, policy)
    return outcome


def _alerts(session: Session, username: str, day: dt.date, level: str, project: str | None = None) -> list[MeterAlert]:
    q = select(MeterAlert).where(MeterAlert.username == username, MeterAlert.day == day, MeterAlert.level == level)
    if project is not None:
        q = q.where(MeterAlert.project == project)
    return list(session.execute(q).scalars())


def mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MiB"


def apply_levels(session: Session, username: str, project: str, outcome: Outcome, now: dt.datetime,
                 policy: MeterPolicy) -> None:
    """Warning: one alert and audit event per user and day. Limit: the reporting project's membership
    is suspended (once per open alert); after an admin lifts it, another full limit may be sent."""
    total, day = outcome.user_total, outcome.day
    if total >= policy.daily_warning_bytes and not _alerts(session, username, day, "warning"):
        message = (f"{username} sent {mib(total)} to the browser today (UTC {day.isoformat()}), past the "
                   f"warning level of {mib(policy.daily_warning_bytes)}")
        outcome.alerts.append(_raise(session, "warning", username, project, day, total,
                                     policy.daily_warning_bytes, message, now))
    limits = _alerts(session, username, day, "limit", project)
    lifted = max((a.bytes for a in limits if a.resolved_at is not None), default=0)
    threshold = lifted + policy.daily_limit_bytes
    if total > threshold and not any(a.resolved_at is None for a in limits):
        message = (f"{username} sent {mib(total)} to the browser today (UTC {day.isoformat()}), past the daily "
                   f"limit of {mib(policy.daily_limit_bytes)}; the server of project {project} is stopped and "
                   "the membership suspended until an enclave admin reinstates it")
        outcome.alerts.append(_raise(session, "limit", username, project, day, total, threshold, message, now))
        outcome.suspended = suspend_member(session, username, project, total, policy)


LEVEL_EVENTS = {"warning": "warning", "limit": "limit_exceeded", "mismatch": "mismatch"}


def _raise(session, level, username, project, day, total, threshold, message, now) -> MeterAlert:
    alert = MeterAlert(at=now, day=day, level=level, username=username, project=project, bytes=total,
                       threshold=threshold, message=message)
    session.add(alert)
    session.flush()
    audit.record(session, ACTOR, f"meter.{LEVEL_EVENTS[level]}",
                 f"{username}/{project}", day=day.isoformat(), bytes=total, threshold=threshold, alert=alert.id)
    return alert


def suspend_member(session: Session, username: str, project: str, total: int, policy: MeterPolicy) -> bool:
    """Suspend the membership that passed the limit; a user who is no longer a member has nothing to suspend."""
    member = session.execute(select(Member).join(Project).where(
        Project.slug == project, Member.username == username)).scalar_one_or_none()
    if member is None or member.status is MemberStatus.suspended:
        return False
    change_member_status(session, ACTOR, project, username, "suspend",
                         f"daily volume limit of {mib(policy.daily_limit_bytes)} passed with {mib(total)}")
    return True


def network_excess(baseline: dict, sent_total: int, tx: int) -> int:
    """Bytes the container's network interface sent since the baseline beyond what the server reported
    (allowing for framing overhead); above zero, something left the container unmetered."""
    return (tx - baseline["tx"]) - int((sent_total - baseline["sent"]) * NETWORK_RATIO) - NETWORK_SLACK


def cross_check(session: Session, username: str, project: str, instance: str, container: str, tx: int,
                day: dt.date, now: dt.datetime) -> MeterAlert | None:
    """Compare what a server reported (all kinds) with what its container's network interface sent.

    A researcher who silences or lowers the in-container counter (it runs under their own user)
    still cannot hide bytes from the interface counter the hub reads through the Docker engine;
    the difference raises a `mismatch` alert for admins, once a day per user and project.
    """
    counter = session.execute(select(MeterCounter).where(
        MeterCounter.username == username, MeterCounter.project == project,
        MeterCounter.instance == instance)).scalar_one_or_none()
    if counter is None:
        return None
    sent_total = sum(_loads(counter.sent).values())
    base = json.loads(counter.network) if counter.network else None
    if base is None or base.get("container") != container or tx < base["tx"]:
        counter.network = json.dumps({"container": container, "tx": tx, "sent": sent_total})
        return None
    excess = network_excess(base, sent_total, tx)
    if excess <= 0 or _alerts(session, username, day, "mismatch", project):
        return None
    message = (f"the network interface of {username}'s server of project {project} sent {mib(excess)} more than "
               "the server reported: output may have left without being metered (a tampered counter, or "
               "a process talking past the server); look at the audit log and the container")
    return _raise(session, "mismatch", username, project, day, tx - base["tx"], sent_total - base["sent"], message, now)


def reinstate(session: Session, actor: str, project: str, username: str) -> Member:
    """An admin lifts a suspension: the membership is active again and the open limit alerts resolved."""
    member = change_member_status(session, actor, project, username, "reinstate")
    for alert in session.execute(select(MeterAlert).where(
            MeterAlert.username == username, MeterAlert.project == project, MeterAlert.level == "limit",
            MeterAlert.resolved_at.is_(None))).scalars():
        alert.resolved_at, alert.resolved_by = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), actor
    session.flush()
    return member


def list_alerts(session: Session, open_only: bool = False, day: dt.date | None = None) -> list[MeterAlert]:
    q = select(MeterAlert).order_by(MeterAlert.at.desc(), MeterAlert.id.desc())
    if open_only:
        q = q.where(MeterAlert.resolved_at.is_(None))
    if day is not None:
        q = q.where(MeterAlert.day == day)
    return list(session.execute(q).scalars())


def usage_on(session: Session, day: dt.date) -> list[MeterUsage]:
    return list(session.execute(select(MeterUsage).where(MeterUsage.day == day)
                                .order_by(MeterUsage.counted.desc())).scalars())

