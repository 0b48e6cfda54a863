"""The hub groups the enclave's roles hang on, and what each group is for.

Identity providers (OIDC group claims) and the demo accounts both put people in these groups;
roles (and the custom scopes of the egress and application services) are granted to groups.
"""

RESEARCHERS = "researchers"
DISTRIBUTION_COMMITTEE = "distribution-committee"
RESEARCH_COMMITTEE = "research-committee"
EGRESS_REVIEWERS = "egress-reviewers"
ENCLAVE_ADMINS = "enclave-admins"

ALL = {
    RESEARCHERS: "apply for data and analyse in approved projects",
    DISTRIBUTION_COMMITTEE: "decide whether data may be given to an applicant (distribution review)",
    RESEARCH_COMMITTEE: "review purpose, infrastructure, data use and ethics (research review)",
    EGRESS_REVIEWERS: "review release requests and approve, reject or revoke releases",
    ENCLAVE_ADMINS: "register datasets, provision projects, manage members, expiry and suspension",
}
