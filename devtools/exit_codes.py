"""The exit codes of `devtools`: defined once here, printed in `devtools --help` and each command's help.

The scheme is the one `systemctl status` and LSB init scripts use for a service's state, with click's
usage code and the shell's code for an interrupt:

- 0 and 3 are LSB's "program is running or service is OK" and "program is not running" (LSB Core,
  iniscrptact.html; systemd's src/systemctl/systemctl-util.h, EXIT_PROGRAM_NOT_RUNNING; `pg_ctl status` does
  the same), so a script can test `devtools status` as it tests `systemctl status`;
- 1 is every other failure, as kubectl and kind exit 1 whatever went wrong;
- 2 is click's UsageError.exit_code (a bad option, argument or command), as for every click program;
- 150 and 151 are devtools' own: LSB reserves 150-199 for an application's status codes, and 1, 2 and 4
  there already mean a dead program or an unknown status, which is not what these say;
- 130 is 128 + SIGINT, what a shell reports for a program stopped by Ctrl-C.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    NOT_RUNNING = 3
    UNHEALTHY = 150
    NO_RUNTIME = 151
    INTERRUPTED = 130

    @property
    def meaning(self) -> str:
        return MEANINGS[self]


MEANINGS = {
    ExitCode.OK: "success",
    ExitCode.ERROR: "it failed: the error says what, and its hint what to do",
    ExitCode.USAGE: "a bad option, argument or command; nothing was done",
    ExitCode.NOT_RUNNING: "nothing runs: no local runtime, no Cartridge workloads on kind",
    ExitCode.UNHEALTHY: "the stack runs, but a component is not healthy (ready)",
    ExitCode.NO_RUNTIME: "neither the local nor the kind runtime can run on this machine",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}
# The one command that exits with each code of devtools' own.
COMMAND = {ExitCode.NOT_RUNNING: "status", ExitCode.UNHEALTHY: "status", ExitCode.NO_RUNTIME: "doctor"}

# What every command can exit with, besides what it adds.
COMMON = (ExitCode.OK, ExitCode.ERROR, ExitCode.USAGE, ExitCode.INTERRUPTED)


def epilog(*codes: ExitCode, ok: str | None = None) -> str:
    """The "Exit codes:" block of a help text, in numeric order, with what 0 means for the command (``ok``).
    Given every code (`devtools --help`), each of devtools' own says its command. ``\b`` keeps click from
    rewrapping the block."""
    every = set(codes) == set(ExitCode)
    lines = []
    for code in sorted(set(codes)):
        meaning = ok if code == ExitCode.OK and ok else code.meaning
        if every and code in COMMAND:
            meaning = f"`{COMMAND[code]}`: {meaning}"
        lines.append(f"  {int(code):<4} {meaning}")
    return "\b\nExit codes:\n" + "\n".join(lines)
