"""The `meter` section of the policy: how much a researcher's server may send to the browser a day.

The single-user server counts the bytes it sends to the client (HTTP responses, kernel and
terminal websocket messages) and reports them to the hub side; these levels turn the daily total
of one user into an alert for admins (warning) and a stopped server with a suspended membership
(limit). Screen and clipboard cannot be closed in a browser; bounding the volume bounds them.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from .schema_base import Strict

MIB = 1024 * 1024


class MeterPolicy(Strict):
    daily_warning_bytes: int = Field(
        8 * MIB, gt=0,
        description="Bytes a user's servers may send to the browser in one UTC day before an alert is raised "
                    "for admins (and audited). Default 8 MiB: a normal day of analysis stays under it.")
    daily_limit_bytes: int = Field(
        16 * MIB, gt=0,
        description="Bytes a day past which the server is stopped and the member's access to that project "
                    "suspended until an admin lifts it. Default 16 MiB: printing a 20 MB table exceeds it.")
    report_interval: float = Field(
        15, ge=1, le=60,
        description="Seconds between a server's reports of its counts to the hub side (at most a minute).")

    @model_validator(mode="after")
    def _warning_below_limit(self) -> "MeterPolicy":
        if self.daily_warning_bytes > self.daily_limit_bytes:
            raise ValueError(f"meter.daily_warning_bytes ({self.daily_warning_bytes}) is above "
                             f"meter.daily_limit_bytes ({self.daily_limit_bytes}); the warning must come first: "
                             "lower the warning or raise the limit")
        return self
