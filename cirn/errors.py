"""Errors a user can cause. Each message names the input and says what to do.

The CLI and the hub turn these into a readable message (or an HTTP 4xx) at their boundary;
library code only raises them.
"""


class CirnError(Exception):
    """Base for errors whose message is meant for the person who caused them."""


class NotFound(CirnError):
    """A named thing (project, dataset, member) does not exist."""


class Conflict(CirnError):
    """The change contradicts the current state (already exists, wrong state for this action)."""


class Refused(CirnError):
    """The actor is not allowed to do this; the message says why."""
