"""Data-access applications: apply, distribution review, research review, provisioned project.

The approval is what creates the project: `workflow` moves an application through the states in
`states.TRANSITIONS`, `provisioning` turns an approved application into a project with exactly the
approved members, grants and end date, and `service` is the hub-managed web UI on top of both.
"""
