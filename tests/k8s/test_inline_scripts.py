"""Every program the manifests run inside an image (a container's command, an exec probe, a lifecycle hook, and
each command of a `sh -c` script among them) is a shell builtin or a binary that image is known to ship.

Third-party images are small: minio/mc is ubi-micro plus mc, with no grep, sed or sleep, so a script that works
on a laptop crash-loops in the cluster (issue 22, fault 2). The lists below are what each image's Dockerfile at
the pinned tag puts on its PATH, each with its source; a script is parsed with bashlex (bash's grammar), so a
command inside `$(...)`, a pipeline, a function or a loop is found like any other.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import bashlex
import pytest
import yaml

from tests.k8s.render import by_kind, pod_spec, render, workloads

OVERLAYS = ("k8s/local", "k8s/prod", "k8s/staging", "k8s/local-monitoring")
SHELLS = {"sh", "bash", "dash", "ash"}

# The utilities dash and bash both build in (a script's `sh` is bash on ubi-micro and dash on Debian): POSIX's
# special built-ins (XCU 2.14) and the regular ones both shells implement (dash(1) and bash(1), "Builtins").
# sleep, cat, grep and the like are programs, not builtins, in both.
SHELL_BUILTINS = frozenset({
    ":", ".", "[", "alias", "bg", "break", "cd", "command", "continue", "echo", "eval", "exec", "exit", "export",
    "false", "fg", "getopts", "hash", "jobs", "kill", "local", "printf", "pwd", "read", "readonly", "return", "set",
    "shift", "test", "times", "trap", "true", "type", "ulimit", "umask", "unalias", "unset", "wait",
})  # fmt: skip  # 38 names, packed as the shells' manuals list them: one per line would fill a screen


@dataclass(frozen=True)
class ImageContents:
    programs: frozenset[str]
    source: str
    tag: str | None = None  # the tag the list was read at: a third-party image pinned at another must be re-read


def contents(programs: str, source: str, tag: str | None = None) -> ImageContents:
    return ImageContents(frozenset(programs.split()), source, tag)


PYTHON_SERVICE = contents(
    "python sh",
    "services/Dockerfile, stage runtime: FROM ${PYTHON_IMAGE} (python:3.11-slim, Debian: dash as sh) with the venv's "
    "bin first on PATH",
)
# What each image ships, by repository (the image reference without its tag or digest).
IMAGE_CONTENTS = {
    "minio/mc": contents(
        "mc sh bash",
        "minio/mc Dockerfile.release at RELEASE.2024-11-05T11-29-45Z: FROM ubi9/ubi-micro, ADD mc to /usr/bin/mc. "
        "ubi-micro has bash as sh and no grep (jfrog/charts#1721), sed (minio/mc#4764) or find (minio/mc#4469); "
        "its coreutils are not relied on",
        tag="RELEASE.2024-11-05T11-29-45Z",
    ),
    "minio/minio": contents(
        "minio mc curl docker-entrypoint.sh sh bash",
        "minio/minio Dockerfile.release at RELEASE.2024-11-07T00-52-20Z: FROM ubi9/ubi-micro, COPY minio, mc, curl "
        "and docker-entrypoint.sh to /usr/bin",
        tag="RELEASE.2024-11-07T00-52-20Z",
    ),
    "postgres": contents(
        "postgres pg_isready psql pg_ctl initdb gosu docker-entrypoint.sh sh bash",
        "docker-library/postgres 15/bookworm/Dockerfile at 15.8 (commit 8cce578a43): FROM debian:bookworm-slim (dash "
        "as sh, bash), gosu in /usr/local/bin, ENV PATH $PATH:/usr/lib/postgresql/$PG_MAJOR/bin, "
        "docker-entrypoint.sh in /usr/local/bin",
        tag="15.8-bookworm",
    ),
    **{
        f"{registry}/cartridge-{name}": PYTHON_SERVICE
        for registry in ("localhost:5001", "ghcr.io/cartridge-dev")
        for name in ("actor", "arena", "trainer", "web")
    },
    **{
        f"{registry}/cartridge-frontend": contents(
            "nginx sh",
            "services/frontend/Dockerfile, stage runtime: FROM ${NGINX_IMAGE} (nginx, Debian: dash as sh)",
        )
        for registry in ("localhost:5001", "ghcr.io/cartridge-dev")
    },
}


def repository_and_tag(image: str) -> tuple[str, str | None]:
    """docker.io/library/x:tag@sha256:... -> (x, tag): the name the table above uses, and the tag."""
    name, tag = image.split("@", 1)[0], None
    if ":" in name.rsplit("/", 1)[-1]:
        name, tag = name.rsplit(":", 1)
    return re.sub(r"^(docker\.io/)?(library/)?", "", name), tag


def commands_in(script: str) -> list[str]:
    """The words in command position of a shell script, in order, less the functions it defines itself; a
    command word that is not a fixed name (`$CMD`, `$(...)`) comes back as it is written, so no list holds it."""

    class Finder(bashlex.ast.nodevisitor):
        def __init__(self) -> None:
            self.found: list[str] = []
            self.defined: set[str] = set()

        def visitfunction(self, node, name, body, parts):
            self.defined.add(name.word)

        def visitcommand(self, node, parts):
            words = [part for part in parts if part.kind == "word"]
            # `exec CMD` and `command CMD` run CMD: check it too.
            while words:
                word = words.pop(0)
                self.found.append(word.word if not word.parts else f"{word.word} (not a fixed name)")
                if word.word not in ("exec", "command") or (words and words[0].word.startswith("-")):
                    break

    finder = Finder()
    try:
        trees = bashlex.parse(script)
    except (bashlex.errors.ParsingError, NotImplementedError) as exc:  # e.g. `case`, which bashlex lacks
        raise AssertionError(f"cannot parse the script, so cannot check it ({exc}): {script!r}") from None
    for tree in trees:
        finder.visit(tree)
    return [name for name in finder.found if name not in finder.defined]


def argv_runs(argv: list[str]) -> list[str]:
    """The programs an argv runs: its first word, and with `sh -c SCRIPT` every command of SCRIPT."""
    program = argv[0]
    runs = [program]
    if Path(program).name in SHELLS and len(argv) > 2 and re.fullmatch(r"-[a-z]*c[a-z]*", argv[1]):
        runs += commands_in(argv[2])
    return runs


def executed(objects) -> list[tuple[str, str, list[str]]]:
    """(where, image, argv) for every argv the manifests make a container run: its command (with args), its
    exec probes and lifecycle hooks. A container without `command` runs its image's own entrypoint."""
    found = []
    for name, workload in workloads(objects).items():
        spec = pod_spec(workload)
        for container in spec.get("initContainers", []) + spec["containers"]:
            where = f"{workload['kind']}/{name} container {container['name']}"
            if "command" in container:
                found.append((f"{where} command", container["image"], container["command"] + container.get("args", [])))
            handlers = [(probe, container.get(probe)) for probe in ("startupProbe", "readinessProbe", "livenessProbe")]
            handlers += [(f"lifecycle.{hook}", h) for hook, h in container.get("lifecycle", {}).items()]
            for label, handler in handlers:
                if handler and "exec" in handler:
                    found.append((f"{where} {label}", container["image"], handler["exec"]["command"]))
    return found


def unshipped(objects) -> list[str]:
    """Each program a manifest runs that is neither a shell builtin nor in its image's list, as one line."""
    problems = []
    for where, image, argv in executed(objects):
        name, tag = repository_and_tag(image)
        known = IMAGE_CONTENTS.get(name)
        if known is None:
            problems.append(f"{where}: no list of what {image} ships (add one to IMAGE_CONTENTS, with its source)")
            continue
        if known.tag and tag != known.tag:
            problems.append(
                f"{where}: {image} is not the tag its list was read at ({known.tag}): read its Dockerfile "
                "at the new tag and update IMAGE_CONTENTS"
            )
            continue
        for program in argv_runs(argv):
            if program not in SHELL_BUILTINS and Path(program).name not in known.programs:
                problems.append(
                    f"{where}: {program!r} is not a shell builtin and {image} does not ship it ({known.source})"
                )
    return problems


def tilt_applied() -> list[dict]:
    """What the Tiltfile applies (k8s/local with its dev patches), from the Starlark stand-in."""
    from tests.test_tiltfile import TiltRecorder, evaluate_tiltfile

    result = evaluate_tiltfile()
    assert result.returncode == 0, result.stderr[-2000:]
    (stream,), _ = TiltRecorder(json.loads(result.stdout)).first("k8s_yaml")
    return [d for d in yaml.safe_load_all(stream) if d]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_program_the_manifests_run_is_a_builtin_or_shipped_by_its_image(overlay):
    objects = render(overlay)
    assert len(executed(objects)) >= 4  # the bucket Job's script, postgres-setup, postgres's two probes
    assert unshipped(objects) == []


def test_what_tilt_applies_runs_only_what_its_images_ship_too():
    """The Tiltfile patches the workloads (and has no local_resource: tests/tilt_eval.py would not know one)."""
    assert unshipped(tilt_applied()) == []


def test_the_parser_finds_commands_wherever_a_script_runs_them():
    script = (
        "set -e; f() { x=$(mc ls a | grep -q b); }; until mc ready a; do sleep 2; done; "
        'FOO=1 env; "$(awk 1)" || exec find .; if [ -n "$x" ]; then echo `sed q`; fi; f; $CMD'
    )
    assert commands_in(script) == [
        "set",
        "mc",
        "grep",
        "mc",
        "sleep",
        "env",
        "$(awk 1) (not a fixed name)",
        "awk",
        "exec",
        "find",
        "[",
        "echo",
        "sed",
        "$CMD (not a fixed name)",
    ]
    with pytest.raises(AssertionError, match="cannot parse"):
        commands_in('case "$x" in a) echo a;; esac')  # bashlex has no `case`: refused, never passed unread


def bucket_job(objects) -> dict:
    return pod_spec(by_kind(objects, "Job")["minio-create-bucket"])["containers"][0]


@pytest.mark.parametrize(
    "script",
    [
        'mc admin user info cartridge "$2" | grep -q "$1" || exit 1',  # the script of d5ffe15
        "until mc ready cartridge; do sleep 2; done",
        'info=$(mc admin user info cartridge u); echo "$info" | sed -n 1p',
    ],
)
def test_the_check_refuses_a_program_the_mc_image_lacks(script):
    objects = copy.deepcopy(render("k8s/local"))
    bucket_job(objects)["command"] = ["sh", "-c", script]
    problems = unshipped(objects)
    assert problems and all("minio/mc" in p and "Job/minio-create-bucket" in p for p in problems), problems
    assert re.search(r"'(grep|sleep|sed)' is not a shell builtin", problems[0])


def test_the_check_refuses_a_third_party_image_pinned_at_a_tag_its_list_was_not_read_at():
    objects = copy.deepcopy(render("k8s/local"))
    bucket_job(objects)["image"] = "minio/mc:RELEASE.2025-04-16T18-13-26Z"
    (problem,) = unshipped(objects)
    assert "is not the tag its list was read at (RELEASE.2024-11-05T11-29-45Z)" in problem


def test_the_check_refuses_an_image_it_has_no_list_for():
    objects = copy.deepcopy(render("k8s/local"))
    bucket_job(objects)["image"] = "busybox:1.36"
    assert unshipped(objects) == [
        "Job/minio-create-bucket container mc command: no list of what busybox:1.36 ships "
        "(add one to IMAGE_CONTENTS, with its source)"
    ]


# --- the bucket Job's script, run by real shells with nothing on PATH but a stand-in for mc -----------------

# A stand-in for mc made of shell builtins only: it records each call, remembers attached policies in $STATE, and
# answers `admin user info` in mc's text format (cmd/admin-user-add.go, userMessage.String, op "info").
FAKE_MC = r"""#!{shell}
echo "$*" >> "$STATE/calls"
case "$1 $2 $3" in
  "admin policy attach") [ -n "$LOSE_ATTACH" ] || echo "$5" > "$STATE/policy-$7" ;;
  "admin user info")
    policy=; [ ! -e "$STATE/policy-$5" ] || read -r policy < "$STATE/policy-$5"
    printf 'AccessKey: %s\nStatus: enabled\nPolicyName: %s\nMemberOf: []\n' "$5" "$policy" ;;
esac
"""


def run_bucket_script(shell: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    container = bucket_job(render("k8s/local"))
    assert container["command"][:2] == ["sh", "-c"]
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    mc = bin_dir / "mc"
    mc.write_text(FAKE_MC.format(shell=shell))
    mc.chmod(0o755)
    variables = {e["name"] for e in container["env"]}
    environ = {name: f"{name.lower()}-value" for name in variables} | {"PATH": str(bin_dir), "STATE": str(state)}
    return subprocess.run(
        [shell, "-c", container["command"][2]], env=environ | env, capture_output=True, text=True, timeout=30
    )


def shells() -> list[str]:
    found = [path for path in ("/bin/dash", "/usr/bin/dash", "/bin/bash", "/usr/bin/bash") if os.path.exists(path)]
    return list({Path(p).name: p for p in found}.values())


@pytest.mark.parametrize("shell", shells() or [pytest.param("sh", marks=pytest.mark.skip(reason="no dash or bash"))])
def test_the_bucket_script_runs_with_only_mc_on_path(shell, tmp_path):
    """bash is the image's sh (ubi-micro); dash is the strictest POSIX sh at hand."""
    result = run_bucket_script(shell, tmp_path)
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "state" / "calls").read_text().splitlines()
    assert calls[:2] == [
        "alias set cartridge http://minio:9000 minio_root_user-value minio_root_password-value --api s3v4",
        "ready cartridge",
    ]
    attached = {line.split()[6]: line.split()[4] for line in calls if line.startswith("admin policy attach")}
    assert attached == {
        "trainer_access_key-value": "models-write",
        "actor_access_key-value": "models-read",
        "web_access_key-value": "models-read",
        "arena_access_key-value": "models-rate",
        "match_access_key-value": "models-read",
    }


@pytest.mark.parametrize("shell", shells() or [pytest.param("sh", marks=pytest.mark.skip(reason="no dash or bash"))])
def test_the_bucket_script_fails_when_a_policy_did_not_attach(shell, tmp_path):
    result = run_bucket_script(shell, tmp_path, LOSE_ATTACH="1")
    assert result.returncode == 1
    assert "policy models-write is not attached to trainer_access_key-value" in result.stdout
