"""Expected failures: one sentence saying what is wrong, and a hint saying what to do."""

from __future__ import annotations

from devtools.exit_codes import ExitCode


class DevtoolsError(Exception):
    exit_code: ExitCode = ExitCode.ERROR  # what `devtools` exits with when this stops a command

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class NothingRunning(DevtoolsError):
    """A command that needs a running stack found none (`status` exits NOT_RUNNING, as `systemctl status`)."""

    exit_code = ExitCode.NOT_RUNNING


# The label on every container devtools creates (registry, cloud-provider-kind); its value says which one.
OWNER_LABEL = "dev.cartridge.role"


class NotCreatedByDevtools(DevtoolsError):
    """devtools refuses to delete or recreate a container or cluster it did not create."""

    @staticmethod
    def combine(refusals: list[NotCreatedByDevtools]) -> NotCreatedByDevtools:
        if len(refusals) == 1:
            return refusals[0]
        return NotCreatedByDevtools("; ".join(r.message for r in refusals), "; ".join(r.hint for r in refusals))
