"""Options that one runtime reads are refused for the other (fault 3), and the names and places two checkouts
keep apart (cluster, registry, data directory) come from a flag or a CARTRIDGE_* variable, checked at parsing.

Parsed by the real CLI (click's CliRunner). Nothing may start: `up` reaching a runtime is recorded and stopped
(``started``), and kind's usability is the one boundary stood in for (kind, Tilt and Docker are not here).
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import devtools.cli
from devtools.cli import cli

LOCAL_ONLY = [
    ("--web-port", "9000"),
    ("--frontend-port", "9001"),
    ("--data-dir", "elsewhere"),
    ("-d",),
    ("--no-frontend",),
]
KIND_ONLY = [("--no-tilt",), ("--tilt-mode", "ci"), ("--cluster", "two"), ("--registry-port", "5002")]


class Started(Exception):
    pass


@pytest.fixture
def started(monkeypatch) -> list:
    """What `up` would have brought up: (runtime, UpOptions); the command stops there."""
    calls: list = []

    def runtime_for_up(chosen, options, progress, echo=None):
        calls.append((chosen, options))
        raise Started(chosen)

    monkeypatch.setattr(devtools.cli, "runtime_for_up", runtime_for_up)
    return calls


@pytest.fixture
def kind_usable(monkeypatch):
    monkeypatch.setattr("devtools.kind.runtime.kind_usable_reasons", lambda: [])


@pytest.fixture
def kind_unusable(monkeypatch):
    monkeypatch.setattr("devtools.kind.runtime.kind_usable_reasons", lambda: ["kind not found on PATH"])


def names(options) -> tuple[str, str, int]:
    return options.kind_names.cluster, options.kind_names.registry_name, options.kind_names.registry_port


def up(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["up", *args], prog_name="devtools", env=env)


@pytest.mark.parametrize("flag", LOCAL_ONLY, ids=lambda f: f[0])
def test_a_local_option_on_kind_is_a_usage_error_naming_the_local_runtime(flag, started, kind_unusable):
    result = up("--runtime", "kind", *flag)
    assert result.exit_code == 2, result.output
    assert "applies to the local runtime only, and this runs the kind runtime" in result.stderr
    assert flag[0] in result.stderr and started == []


@pytest.mark.parametrize("flag", KIND_ONLY, ids=lambda f: f[0])
def test_a_kind_option_on_local_is_a_usage_error_naming_the_kind_runtime(flag, started):
    result = up("--runtime", "local", *flag)
    assert result.exit_code == 2, result.output
    assert "applies to the kind runtime only, and this runs the local runtime (--runtime local)" in result.stderr
    assert started == []


def test_auto_refuses_an_option_of_the_runtime_it_did_not_choose_and_says_why(started, kind_usable):
    result = up("--web-port", "9000", "--no-frontend")
    assert result.exit_code == 2
    assert "--web-port, --no-frontend apply to the local runtime only, and this runs the kind runtime" in result.stderr
    assert "--runtime chooses" in result.stderr and started == []


def test_auto_on_local_refuses_tilt_options(started, kind_unusable):
    result = up("--tilt-mode", "ci")
    assert result.exit_code == 2 and "--tilt-mode applies to the kind runtime only" in result.stderr


def test_an_exported_variable_of_the_other_runtime_is_not_an_error(started, kind_unusable):
    """Only the command line counts as given: CARTRIDGE_CLUSTER exported for kind leaves a local `up` alone."""
    result = up("--runtime", "local", env={"CARTRIDGE_CLUSTER": "two", "CARTRIDGE_REGISTRY_PORT": "5002"})
    assert isinstance(result.exception, Started), result.output
    assert [chosen for chosen, _ in started] == ["local"]


def test_options_of_the_chosen_runtime_reach_it(started, kind_usable):
    up("--runtime", "kind", "--no-tilt", "--cluster", "two", "--registry-name", "reg-two", "--registry-port", "5002")
    ((chosen, options),) = started
    assert chosen == "kind" and options.tilt is None
    assert names(options) == ("two", "reg-two", 5002)


@pytest.mark.parametrize("runtime", ["kind", "local"])
def test_monitoring_is_an_option_of_both_runtimes_and_reaches_the_one_chosen(runtime, started, kind_usable):
    """Until issue 25's kind stack, `up --runtime kind --monitoring` was refused as a local option."""
    result = up("--runtime", runtime, "--monitoring")
    assert isinstance(result.exception, Started), result.output
    ((chosen, options),) = started
    assert chosen == runtime and options.monitoring is True


def test_names_come_from_the_environment_with_todays_values_by_default(started, kind_usable, tmp_path):
    up("--runtime", "kind")
    up(
        "--runtime",
        "kind",
        env={"CARTRIDGE_CLUSTER": "b", "CARTRIDGE_REGISTRY_NAME": "reg-b", "CARTRIDGE_REGISTRY_PORT": "5012"},
    )
    up("--runtime", "local", env={"CARTRIDGE_DATA_DIR": str(tmp_path / "b")})
    assert names(started[0][1]) == ("cartridge", "kind-registry", 5001)
    assert names(started[1][1]) == ("b", "reg-b", 5012)
    assert started[2][1].local_config().data_dir == tmp_path / "b"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("--cluster", "Two_Stacks"), {}, "'Two_Stacks' is not a name kind accepts for a cluster"),
        ((), {"CARTRIDGE_CLUSTER": "my cluster"}, "'my cluster' is not a name kind accepts for a cluster"),
        (("--registry-name", "-reg"), {}, "'-reg' is not a container name Docker accepts"),
        (("--registry-port", "five"), {}, "'five' is not a valid integer"),
        ((), {"CARTRIDGE_REGISTRY_PORT": "70000"}, "70000 is not in the range 1<=x<=65535"),
    ],
)
def test_a_name_or_port_kind_or_docker_would_refuse_stops_at_parsing(args, env, message, started, kind_usable):
    result = up("--runtime", "kind", *args, env=env)
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert started == []


def test_help_shows_each_variable_and_which_runtime_an_option_is_for():
    shown = CliRunner().invoke(cli, ["up", "--help"], prog_name="devtools", terminal_width=200).stdout
    for variable in ("CARTRIDGE_CLUSTER", "CARTRIDGE_REGISTRY_NAME", "CARTRIDGE_REGISTRY_PORT", "CARTRIDGE_DATA_DIR"):
        assert f"env var: {variable}" in shown
    for option in ("--web-port", "--frontend-port", "--data-dir", "--detach", "--no-frontend"):
        line = next(line for line in shown.splitlines() if option in line)
        assert "local:" in line, line
    line = next(line for line in shown.splitlines() if "--monitoring" in line)
    assert not line.split("--monitoring", 1)[1].lstrip().startswith(("local:", "kind:")), line
    for option in ("--no-tilt", "--tilt-mode", "--cluster", "--registry-name", "--registry-port"):
        line = next(line for line in shown.splitlines() if option in line)
        assert "kind:" in line, line
