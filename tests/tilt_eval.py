"""Evaluate a Tiltfile in starlark-go with a recording stand-in for Tilt's API; print the calls as JSON.

Run in its own process by tests/test_tiltfile.py: starlark-go's callbacks into Python are only
stable in a small interpreter (it crashes once heavy native libraries are loaded), so this module
imports nothing but starlark_go, yaml and the standard library.

    python tests/tilt_eval.py Tiltfile [-- --actors 3 --env-id connect4] > calls.json
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import starlark_go
import starlark_go.errors
import yaml

RETURNS = {
    "sync": lambda src, dest: {"step": "sync", "src": src, "dest": dest},
    "run": lambda cmd, trigger=None: {"step": "run", "cmd": cmd, "trigger": trigger},
    "fall_back_on": lambda files: {"step": "fall_back_on", "files": list(files)},
    "port_forward": lambda local, container=None, name=None: {"local": local, "container": container or local},
    "link": lambda url, name=None: {"url": url, "name": name},
    "kustomize": lambda path: (
        subprocess.run(["kubectl", "kustomize", path], capture_output=True, text=True, check=True).stdout
    ),
    "decode_yaml_stream": lambda text: [d for d in yaml.safe_load_all(text) if d],
    "encode_yaml_stream": lambda objects: yaml.safe_dump_all(objects),
    "read_json": lambda path, default=None: json.loads(Path(path).read_text()),
    "read_yaml": lambda path, default=None: yaml.safe_load(Path(path).read_text()),
    "ci_settings": lambda *args, **kwargs: ci_settings(*args, **kwargs),
}
RECORDED = (
    "version_settings",
    "allow_k8s_contexts",
    "update_settings",
    "ci_settings",
    "docker_build",
    "k8s_yaml",
    "k8s_resource",
    "sync",
    "run",
    "fall_back_on",
    "port_forward",
    "link",
    "kustomize",
)

# ci_settings as Tilt v0.37.6 unpacks it (internal/tiltfile/cisettings/ci_settings.go): three optional parameters,
# each a string that Go's time.ParseDuration reads (internal/tiltfile/value/duration.go).
CI_SETTINGS_PARAMS = ("k8s_grace_period", "timeout", "readiness_timeout")
GO_DURATION = re.compile(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+")
GO_DURATION_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def go_duration_seconds(text: str) -> float:
    """Seconds in a Go duration string ("8m", "1h30m"); ValueError for what time.ParseDuration refuses."""
    if not isinstance(text, str) or not GO_DURATION.fullmatch(text):
        raise ValueError(f'{text!r} is not a Go duration string such as "8m" or "1h30m"')
    return sum(
        float(n) * GO_DURATION_SECONDS[unit] for n, _, unit in re.findall(r"(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)", text)
    )


def ci_settings(*args, **kwargs) -> None:
    if len(args) > len(CI_SETTINGS_PARAMS) or set(kwargs) - set(CI_SETTINGS_PARAMS):
        raise TypeError(f"ci_settings: unexpected arguments (it takes {', '.join(CI_SETTINGS_PARAMS)})")
    for value in [*args, *kwargs.values()]:
        go_duration_seconds(value)


# Each builtin is a Starlark function forwarding to one Python callable with positional arguments only
# (starlark-go crashes calling Python with keyword arguments alone).
CONFIG = ("config_define_string", "config_define_bool", "config_parse", "fail", "os_getenv")
# Tilt's predeclared constants that the Tiltfile names, as strings (Tilt's own are opaque values).
CONSTANTS = ("TRIGGER_MODE_AUTO", "TRIGGER_MODE_MANUAL")
PRELUDE = "".join(
    f"def {name}(*args, **kwargs):\n    return _tilt({name!r}, args, kwargs)\n"
    for name in sorted({*RECORDED, *RETURNS, *CONFIG})
) + "".join(f"{name} = {name!r}\n" for name in CONSTANTS)


# Tilt's `config` and `os` modules: starlark-go has no struct type for `config.define_string(...)`, so
# their calls are renamed to plain functions (config_define_string, config_parse, os_getenv) before
# evaluation. Only what the Tiltfile uses is modelled; another config.* or os.* call leaves an undefined
# name and fails the evaluation.
MODULE_CALL = re.compile(r"\b(config|os)\.(define_string|define_bool|parse|getenv)\(")
# Go's strconv.ParseBool, which Tilt's boolSetting.Set calls (internal/tiltfile/config/bool.go).
GO_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}


def parse_tilt_args(defined: dict[str, str], argv: list[str]) -> dict[str, str | bool]:
    """What Tilt's config.parse() returns for `tilt up -- ARGV` (``defined``: each setting's type, string or bool):
    --name value / --name=value, parsed by Go's flag package (internal/tiltfile/config/config_def.go, parseArgs). A
    bool setting is no boolean flag there (no IsBoolFlag), so it too needs a value; Go's ParseBool reads it."""
    values: dict[str, str | bool] = {}
    i = 0
    while i < len(argv):
        name, equals, value = argv[i].removeprefix("--").partition("=")
        if name not in defined:
            raise SystemExit(f"Tiltfile config: unknown flag --{name} (defined: {', '.join(sorted(defined))})")
        if not equals:
            i += 1
            if i == len(argv):
                raise SystemExit(f"Tiltfile config: flag needs an argument: --{name}")
            value = argv[i]
        if defined[name] == "bool":
            if value not in GO_BOOLS:
                raise SystemExit(f'Tiltfile config: invalid value "{value}" for flag --{name}: parse error')
            values[name] = GO_BOOLS[value]
        else:
            values[name] = value
        i += 1
    return values


class TiltfileFailed(Exception):
    """The Tiltfile stopped (fail(), or Tilt's config.parse refusing a flag); ``calls`` made before it."""

    def __init__(self, message: str, calls: dict[str, list]) -> None:
        super().__init__(message)
        self.calls = calls


def evaluate(tiltfile: Path, argv: list[str], environ: dict[str, str] | None = None) -> dict[str, list]:
    calls: dict[str, list] = {}
    defined: dict[str, str] = {}  # setting -> its type
    environ = {} if environ is None else environ
    os.chdir(tiltfile.resolve().parent)  # Tilt resolves a Tiltfile's paths from its directory

    def tilt(name, args, kwargs):
        args, kwargs = list(args), dict(kwargs)
        if name == "docker_build" and "build_args" in kwargs:
            # What Docker receives: Tilt turns an empty value into a bare `KEY` (internal/tiltfile/docker.go,
            # v0.37.6), which docker/cli's ConvertKVStringsToMapWithNil makes nil, i.e. unset: the Dockerfile's
            # ARG default applies.
            kwargs["build_args"] = {k: v for k, v in dict(kwargs["build_args"]).items() if v != ""}
        if name in RECORDED:
            calls.setdefault(name, []).append([args, kwargs])
        if name in ("config_define_string", "config_define_bool"):
            defined[args[0]] = name.rsplit("_", 1)[1]
            return None
        if name == "config_parse":
            return parse_tilt_args(defined, argv)
        if name == "os_getenv":
            return environ.get(args[0], args[1] if len(args) > 1 else None)
        if name == "fail":
            raise SystemExit(f"Tiltfile failed: {args[0]}")
        return RETURNS[name](*args, **kwargs) if name in RETURNS else None

    # Tilt's dialect: top-level for/if and reassignment are allowed.
    starlark_go.configure_starlark(allow_global_reassign=True, allow_set=True)
    interpreter = starlark_go.Starlark(globals={"_tilt": tilt})
    try:
        interpreter.exec(PRELUDE + MODULE_CALL.sub(r"\1_\2(", tiltfile.read_text()))
    except starlark_go.errors.EvalError as exc:  # fail(), config.parse, or an error in the Tiltfile itself
        raise TiltfileFailed(str(exc), calls) from None
    return calls


if __name__ == "__main__":
    # tilt_eval.py Tiltfile [-- TILTFILE ARGS...], as `tilt up -- ARGS`; the environment is os.getenv's.
    # A Tiltfile that stops prints the calls it made before stopping and exits 1 with the reason.
    argv = sys.argv[2:]
    try:
        json.dump(evaluate(Path(sys.argv[1]), argv[1:] if argv[:1] == ["--"] else argv, dict(os.environ)), sys.stdout)
    except TiltfileFailed as failed:
        json.dump(failed.calls, sys.stdout)
        sys.exit(str(failed))
