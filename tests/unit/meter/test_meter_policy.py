"""The policy's `meter` section: defaults, and a warning above the limit refused at load naming the key."""

import pytest

from cirn.policies import PolicyError, load_policy
from cirn.policies.meter_rules import MIB, MeterPolicy

BASE = """
resources: {default_profile: s, profiles: {s: {mem_limit: 1G, cpu_limit: 1, pids_limit: 64}}}
images: {default: a, allowed: [a]}
"""


def test_shipped_policy_has_a_warning_below_a_limit_a_20_mb_table_passes():
    meter = load_policy().meter
    assert meter.daily_warning_bytes < meter.daily_limit_bytes < 20 * 1000 * 1000
    assert meter.report_interval <= 60


def test_warning_above_the_limit_is_refused_at_load_naming_the_key(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(BASE + "meter: {daily_warning_bytes: 20000000, daily_limit_bytes: 10000000}\n")
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert "meter.daily_warning_bytes" in str(err.value) and "meter.daily_limit_bytes" in str(err.value)


@pytest.mark.parametrize("text,key", [
    ("meter: {daily_limit_bytes: 0}", "meter.daily_limit_bytes"),
    ("meter: {report_interval: 120}", "meter.report_interval"),
    ("meter: {daily_budget: 5}", "meter.daily_budget"),
])
def test_bad_meter_values_name_the_key(tmp_path, text, key):
    path = tmp_path / "p.yaml"
    path.write_text(BASE + text + "\n")
    with pytest.raises(PolicyError, match=key.replace(".", r"\.")):
        load_policy(path)


def test_equal_warning_and_limit_are_accepted():
    assert MeterPolicy(daily_warning_bytes=MIB, daily_limit_bytes=MIB).daily_limit_bytes == MIB
