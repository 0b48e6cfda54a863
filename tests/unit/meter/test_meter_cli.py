"""`cirn alerts list` shows what the meter raised; `cirn alerts reinstate` lifts a suspension, audited."""

import datetime as dt

from click.testing import CliRunner

from cirn import projects
from cirn.cli import main
from cirn.hub.meter import accounting as acc
from cirn.models import AuditEvent
from cirn.policies.meter_rules import MeterPolicy


def test_alerts_list_and_reinstate(enclave):
    with enclave.db.session() as s:
        projects.create_project(s, "admin:t", "proj-one", "P", dt.date(2099, 1, 1))
        projects.add_member(s, "admin:t", "proj-one", "alice")
        acc.record_report(s, "alice", "proj-one", acc.Report("instance-a", 1, {"kernel": 3000}),
                          dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
                          MeterPolicy(daily_warning_bytes=1000, daily_limit_bytes=2000))
    env = {"CIRN_HOME": str(enclave.state.root)}
    out = CliRunner().invoke(main, ["alerts", "list", "--open"], env=env)
    assert out.exit_code == 0 and "limit" in out.output and "warning" in out.output and "alice" in out.output
    out = CliRunner().invoke(main, ["alerts", "reinstate", "proj-one", "alice"], env=env)
    assert out.exit_code == 0 and "reinstated" in out.output
    with enclave.db.session() as s:
        assert projects.spawn_decision(s, "alice", "proj-one", dt.date.today()).allowed
        assert s.query(AuditEvent).filter_by(action="project.member_reinstated").count() == 1
    again = CliRunner().invoke(main, ["alerts", "reinstate", "proj-one", "alice"], env=env)
    assert again.exit_code == 2 and "membership is active" in again.output
