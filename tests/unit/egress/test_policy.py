"""The egress section of the policy: defaults from the issue, the shipped YAML writes them out,
and bad values are refused with a message naming the key."""

from __future__ import annotations

import pytest
import yaml

from cirn.policies import PolicyError, load_policy
from cirn.policies.egress_rules import EgressPolicy


def test_defaults_follow_sdc_practice():
    p = EgressPolicy()
    assert (p.min_count, p.zeros, p.rounding_base) == (10, "review", 5)
    assert (p.dominance.n, p.dominance.k, p.dominance.p_ratio) == (2, 0.9, 0.1)
    assert (p.min_residual_dof, p.min_survival_count) == (10, 10)
    assert p.ner_model is None


def test_shipped_yaml_spells_out_the_defaults():
    assert load_policy().egress == EgressPolicy()


def test_unknown_key_and_bad_value_are_refused(tmp_path):
    raw = yaml.safe_load(open(load_policy.__globals__["DEFAULT_POLICY"], encoding="utf-8"))
    raw["egress"]["min_cout"] = 5
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    with pytest.raises(PolicyError, match="egress.min_cout"):
        load_policy(path)
    raw["egress"].pop("min_cout")
    raw["egress"]["zeros"] = "maybe"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    with pytest.raises(PolicyError, match="egress.zeros"):
        load_policy(path)


def test_rounding_coarser_than_threshold_is_refused():
    with pytest.raises(ValueError, match="rounding_base"):
        EgressPolicy(rounding_base=50)
