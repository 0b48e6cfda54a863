"""Daily accounting of reported bytes: growth only, days on the hub's clock, the levels and what they do."""

import datetime as dt

import pytest

from cirn import projects
from cirn.hub.meter import accounting as acc
from cirn.models import AuditEvent, MemberStatus, MeterUsage
from cirn.policies.meter_rules import MeterPolicy

POLICY = MeterPolicy(daily_warning_bytes=1000, daily_limit_bytes=2000)
T0 = dt.datetime(2026, 6, 1, 12, 0)


def setup(enclave, members=("alice",), slugs=("proj-one",)):
    with enclave.db.session() as s:
        for slug in slugs:
            projects.create_project(s, "admin:t", slug, "P", dt.date(2027, 1, 1))
            for m in members:
                projects.add_member(s, "admin:t", slug, m)


def report(enclave, sent, instance="instance-a", project="proj-one", user="alice", at=T0, seq=1, policy=POLICY):
    with enclave.db.session() as s:
        out = acc.record_report(s, user, project, acc.Report(instance, seq, sent), at, policy)
        return out


def events(enclave, action):
    with enclave.db.session() as s:
        return s.query(AuditEvent).filter(AuditEvent.action == action).all()


def test_cumulative_reports_add_only_their_growth(enclave):
    setup(enclave)
    assert report(enclave, {"kernel": 100, "http": 50}).added == 150
    assert report(enclave, {"kernel": 100, "http": 50}, seq=2).added == 0  # a repeat adds nothing
    assert report(enclave, {"kernel": 300, "http": 50}, seq=3).user_total == 350


def test_a_lower_report_never_lowers_the_count(enclave):
    """A forged or replayed report with smaller numbers changes nothing, and does not lower the baseline."""
    setup(enclave)
    report(enclave, {"kernel": 500})
    out = report(enclave, {"kernel": 0}, seq=9)
    assert out.added == 0 and out.user_total == 500
    assert report(enclave, {"kernel": 600}, seq=10).added == 100  # not 600


def test_static_code_is_recorded_but_not_counted(enclave):
    setup(enclave)
    out = report(enclave, {"static": 5000, "http": 10})
    assert out.user_total == 10 and not out.alerts


def test_two_tabs_on_one_server_are_summed_once(enclave):
    """One server reports one cumulative count for all its clients: bytes to each tab, each counted once."""
    setup(enclave)
    report(enclave, {"kernel": 400})  # tab one got 200, tab two got 200
    assert report(enclave, {"kernel": 600}, seq=2).user_total == 600


def test_a_restarted_server_is_a_new_instance_and_adds_to_the_same_day(enclave):
    setup(enclave)
    report(enclave, {"kernel": 300}, instance="instance-a")
    assert report(enclave, {"kernel": 200}, instance="instance-b").user_total == 500


def test_the_levels_apply_to_a_users_total_over_projects(enclave):
    setup(enclave, slugs=("proj-one", "proj-two"))
    report(enclave, {"kernel": 600}, project="proj-one")
    out = report(enclave, {"kernel": 600}, project="proj-two")
    assert out.user_total == 1200 and [a.level for a in out.alerts] == ["warning"]


def test_warning_alerts_and_audits_once_a_day(enclave):
    setup(enclave)
    out = report(enclave, {"kernel": 1000})
    assert [a.level for a in out.alerts] == ["warning"]
    assert not report(enclave, {"kernel": 1500}, seq=2).alerts
    assert len(events(enclave, "meter.warning")) == 1
    with enclave.db.session() as s:
        assert projects.spawn_decision(s, "alice", "proj-one", T0.date()).allowed


def test_limit_suspends_the_membership_and_audits(enclave):
    setup(enclave)
    out = report(enclave, {"kernel": 2500})
    assert {a.level for a in out.alerts} == {"warning", "limit"} and out.suspended
    with enclave.db.session() as s:
        d = projects.spawn_decision(s, "alice", "proj-one", T0.date())
    assert not d.allowed and "suspended" in d.reason and "volume limit" in d.reason
    assert events(enclave, "meter.limit_exceeded") and events(enclave, "project.member_suspended")
    assert not report(enclave, {"kernel": 3000}, seq=2).alerts  # one open limit alert is enough


def test_a_lifted_suspension_allows_another_full_limit(enclave):
    setup(enclave)
    report(enclave, {"kernel": 2500})
    with enclave.db.session() as s:
        acc.reinstate(s, "admin:t", "proj-one", "alice")
        assert projects.spawn_decision(s, "alice", "proj-one", T0.date()).allowed
        assert all(a.resolved_at for a in acc.list_alerts(s) if a.level == "limit")
    assert not report(enclave, {"kernel": 4000}, seq=2).alerts  # 2500 + 2000 not yet passed
    assert report(enclave, {"kernel": 4600}, seq=3).suspended
    assert events(enclave, "project.member_reinstated")


def test_a_new_utc_day_starts_from_zero(enclave):
    setup(enclave)
    report(enclave, {"kernel": 1500})
    out = report(enclave, {"kernel": 2000}, seq=2, at=T0 + dt.timedelta(days=1))
    assert out.day == dt.date(2026, 6, 2) and out.added == 500 and out.user_total == 500 and not out.alerts


def test_a_clock_that_jumps_back_does_not_reopen_a_past_day(enclave):
    setup(enclave)
    report(enclave, {"kernel": 100}, at=T0 + dt.timedelta(days=1))
    out = report(enclave, {"kernel": 300}, seq=2, at=T0 - dt.timedelta(days=3))
    assert out.day == dt.date(2026, 6, 2) and out.user_total == 300
    with enclave.db.session() as s:
        assert {u.day for u in s.query(MeterUsage)} == {dt.date(2026, 6, 2)}


def test_a_clock_that_jumps_forward_loses_no_bytes(enclave):
    setup(enclave)
    report(enclave, {"kernel": 100})
    out = report(enclave, {"kernel": 400}, seq=2, at=T0 + dt.timedelta(days=40))
    assert out.added == 300
    with enclave.db.session() as s:
        assert sum(u.counted for u in s.query(MeterUsage)) == 400


def test_a_user_in_no_project_is_recorded_and_alerted_but_has_nothing_to_suspend(enclave):
    setup(enclave, members=())
    out = report(enclave, {"kernel": 2500}, user="nobody")
    assert {a.level for a in out.alerts} == {"warning", "limit"} and not out.suspended
    assert not events(enclave, "project.member_suspended")


def test_counts_survive_reopening_the_database(enclave):
    """The hub side keeps nothing in memory: a restart reads the counters back."""
    setup(enclave)
    report(enclave, {"kernel": 700})
    from cirn.enclave import Enclave
    again = Enclave.from_env({"CIRN_HOME": str(enclave.state.root)})
    with again.db.session() as s:
        out = acc.record_report(s, "alice", "proj-one", acc.Report("instance-a", 2, {"kernel": 900}),
                                T0 + dt.timedelta(hours=1), POLICY)
    assert out.added == 200 and out.user_total == 900


@pytest.mark.parametrize("body,field", [
    ([], "JSON object"),
    ({"instance": "x", "sent": {"kernel": 1}}, "instance"),
    ({"instance": "instance-a", "seq": -1, "sent": {"kernel": 1}}, "seq"),
    ({"instance": "instance-a", "sent": {}}, "sent"),
    ({"instance": "instance-a", "sent": {"clipboard": 1}}, "clipboard"),
    ({"instance": "instance-a", "sent": {"kernel": -5}}, "sent.kernel"),
    ({"instance": "instance-a", "sent": {"kernel": True}}, "sent.kernel"),
])
def test_bad_reports_name_the_field(body, field):
    with pytest.raises(acc.BadReport, match=field):
        acc.parse_report(body)


def test_network_cross_check_alerts_when_more_left_than_was_reported(enclave):
    setup(enclave)
    report(enclave, {"kernel": 1000, "static": 500})
    with enclave.db.session() as s:
        day = T0.date()
        assert acc.cross_check(s, "alice", "proj-one", "instance-a", "c1", 10_000, day, T0) is None  # baseline
    report(enclave, {"kernel": 1_001_000, "static": 500}, seq=2)
    with enclave.db.session() as s:
        # 1 MB reported, 1.1 MB on the wire: framing, within the allowance
        assert acc.cross_check(s, "alice", "proj-one", "instance-a", "c1", 1_110_000, day, T0) is None
        # 4 MB on the wire for 1 MB reported: something left unmetered
        alert = acc.cross_check(s, "alice", "proj-one", "instance-a", "c1", 4_010_000, day, T0)
        assert alert is not None and alert.level == "mismatch" and "more than the server reported" in alert.message
        assert acc.cross_check(s, "alice", "proj-one", "instance-a", "c1", 9_010_000, day, T0) is None  # once a day
    assert events(enclave, "meter.mismatch")


def test_a_new_container_starts_a_new_network_baseline(enclave):
    setup(enclave)
    report(enclave, {"kernel": 10})
    with enclave.db.session() as s:
        acc.cross_check(s, "alice", "proj-one", "instance-a", "c1", 50_000_000, T0.date(), T0)
        assert acc.cross_check(s, "alice", "proj-one", "instance-a", "c2", 100, T0.date(), T0) is None


def test_network_excess_allows_framing_and_a_slack():
    base = {"tx": 0, "sent": 0}
    assert acc.network_excess(base, 1_000_000, 1_200_000) < 0
    assert acc.network_excess(base, 0, acc.NETWORK_SLACK) == 0
    assert acc.network_excess(base, 0, acc.NETWORK_SLACK + 10) == 10
