"""`devtools logs`: log lines are text, never markup; the whole stack followed at once, with prefixes."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from devtools.cli import cli

# Lines as the services write them: structlog's level and logger in brackets, and one that rich would read as
# a closing tag. The supervisor writes each behind the time it arrived.
STRUCTLOG = [
    "2025-06-01T10:00:00.000001Z [warning  ] replay slow                    [cartridge_web.stats] ms=812",
    "2025-06-01T10:00:01.000001Z [info     ] Uvicorn running on http://127.0.0.1:8080 [uvicorn.error]",
    "a path like [/x] and [bold]not bold[/bold]",
]


@pytest.fixture
def no_kind(tmp_path, monkeypatch):
    """No kind or kubectl on PATH: `logs` reads the local runtime's files, whatever runs on this machine."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))


def write_log(data_dir: Path, name: str, lines: list[str], second: int = 0) -> None:
    """``lines`` as the supervisor appends them to <data dir>/logs/<name>.log, stamped from ``second`` on."""
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    with open(data_dir / "logs" / f"{name}.log", "a") as log:
        for i, line in enumerate(lines, start=second):
            log.write(f"2025-06-01T10:00:{i:02d}.500000Z {line}\n")


def test_log_lines_are_printed_as_text_not_markup(tmp_path, no_kind):
    """Fault 1: `[warning  ]` and `[uvicorn.error]` vanished, and `[/x]` crashed with MarkupError."""
    write_log(tmp_path, "web", STRUCTLOG)
    result = CliRunner().invoke(cli, ["logs", "web", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"web | {line}" for line in STRUCTLOG]


def test_every_component_is_one_timeline_with_aligned_prefixes(tmp_path, no_kind):
    write_log(tmp_path, "web", ["web up", "web serving"], second=1)
    write_log(tmp_path, "trainer", ["trainer up", "iteration 1"], second=0)
    (tmp_path / "logs" / "trainer.log").open("a").write("2025-06-01T10:00:03.500000Z iteration 2\n")
    result = CliRunner().invoke(cli, ["logs", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "trainer | trainer up",
        "trainer | iteration 1",
        "web     | web up",
        "web     | web serving",
        "trainer | iteration 2",
    ]


def test_lines_since_and_timestamps(tmp_path, no_kind):
    write_log(tmp_path, "web", [f"line {i}" for i in range(6)])
    result = CliRunner().invoke(
        cli, ["logs", "web", "--since", "2025-06-01T12:00:03+02:00", "-t", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "web | 2025-06-01T10:00:03.500000Z line 3",
        "web | 2025-06-01T10:00:04.500000Z line 4",
        "web | 2025-06-01T10:00:05.500000Z line 5",
    ]
    last_two = CliRunner().invoke(cli, ["logs", "web", "-n", "2", "--since", "1h", "--data-dir", str(tmp_path)])
    assert last_two.exit_code == 0 and last_two.output == ""  # written in 2025: none in the last hour
    last_two = CliRunner().invoke(cli, ["logs", "web", "-n", "2", "--data-dir", str(tmp_path)])
    assert last_two.output.splitlines() == ["web | line 4", "web | line 5"]


@pytest.mark.parametrize("since", ["10", "yesterday", "5 minutes", "-5m"])
def test_a_bad_since_is_a_usage_error_that_shows_what_it_takes(tmp_path, no_kind, since):
    result = CliRunner().invoke(cli, ["logs", "--since", since, "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "Invalid value for '--since'" in result.output and "a duration like 30s, 10m, 1h" in result.output


def test_previous_on_the_local_runtime_says_where_the_earlier_run_is(tmp_path, no_kind):
    write_log(tmp_path, "web", ["web up"])
    result = CliRunner().invoke(cli, ["logs", "web", "--previous", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "error: --previous is for the kind runtime" in result.stderr
