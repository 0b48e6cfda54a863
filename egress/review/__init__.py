"""Release requests: the domain of the egress review (states, permissions, snapshots, packages).

The web service (cirn.egress.service) is a thin layer over this package; everything a rule
depends on (who may review, the two-person rule, the snapshot rule) is decided here.
"""
