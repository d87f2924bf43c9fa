"""The Tiltfile, evaluated in a real Starlark interpreter with a recording stand-in for Tilt's API.

Tilt itself cannot run here, so this checks what Tilt would be told: the five images and their
Dockerfiles, live_update sync paths that land where the Dockerfiles put the sources, dependency
files that force a rebuild, the workloads and ports the kustomize output really has.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from devtools.kind.cluster import ClusterSpec
from devtools.kind.runtime import URLS, tilt_args
from devtools.paths import REPO_ROOT
from tests.k8s.render import pod_spec, workloads

COMPONENTS = ("actor", "arena", "trainer", "web", "frontend")
PYTHON_COMPONENTS = ("actor", "arena", "trainer", "web")


class TiltRecorder:
    """The Tilt API calls the Tiltfile made (evaluated by tests/tilt_eval.py in its own process)."""

    def __init__(self, calls: dict[str, list]) -> None:
        self.calls = {name: [(tuple(args), kwargs) for args, kwargs in made] for name, made in calls.items()}

    def first(self, name: str):
        return self.calls[name][0]


def render_kustomize(path: Path) -> str:
    return subprocess.run(["kubectl", "kustomize", str(path)], capture_output=True, text=True, check=True).stdout


def evaluate_tiltfile(
    *tilt_args: str, tiltfile: Path = REPO_ROOT / "Tiltfile", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Evaluate a Tiltfile as `tilt up -- TILT_ARGS` would, in its directory, with only ``env`` as its
    environment (in its own process: see tests/tilt_eval.py)."""
    command = [sys.executable, str(REPO_ROOT / "tests" / "tilt_eval.py"), str(tiltfile), "--", *tilt_args]
    environ = {"PATH": os.environ["PATH"], **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tiltfile.parent, env=environ)


def load_workflow(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as True
    return doc


@pytest.fixture(scope="module")
def tilt() -> TiltRecorder:
    result = evaluate_tiltfile()
    assert result.returncode == 0, f"the Tiltfile does not evaluate: {result.stderr[-3000:]}"
    return TiltRecorder(json.loads(result.stdout))


@pytest.fixture(scope="module")
def applied(tilt) -> list[dict]:
    (stream,), _ = tilt.first("k8s_yaml")
    return [d for d in yaml.safe_load_all(stream) if d]


def builds(tilt) -> dict[str, tuple[tuple, dict]]:
    calls = tilt.calls["docker_build"]
    return {args[0].rsplit("/", 1)[-1].removeprefix("cartridge-"): (args, kw) for args, kw in calls}


def resource_name(args: tuple, kw: dict) -> str:
    """k8s_resource("web", ...) or k8s_resource(new_name="gateway", objects=[...])."""
    return args[0] if args else kw["new_name"]


def containers(workload: dict) -> list[dict]:
    return pod_spec(workload)["containers"]


@dataclass
class Stage:
    base: str  # an image, or the name of an earlier stage
    lines: list[str]


def stages_of(dockerfile: Path) -> dict[str, Stage]:
    """The Dockerfile's stages by name (unnamed ones as stage<N>), with continuation lines joined."""
    stages: dict[str, Stage] = {}
    for line in dockerfile.read_text().replace("\\\n", " ").splitlines():
        match = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line.strip(), re.IGNORECASE)
        if match:
            name = (match.group(2) or f"stage{len(stages)}").lower()
            stages[name] = Stage(match.group(1).lower(), [])
        elif stages and line.strip():
            stages[name].lines.append(line.strip())
    return stages


def built_stages(stages: dict[str, Stage], target: str | None) -> dict[str, Stage]:
    """What BuildKit (Tilt's builder) builds for ``target`` (the last stage by default): the target, the
    stages it builds on (FROM) and those it copies from (COPY --from), transitively."""
    wanted, queue = {}, [(target or list(stages)[-1]).lower()]
    while queue:
        name = queue.pop()
        if name in stages and name not in wanted:
            wanted[name] = stages[name]
            queue += [stages[name].base] + [m for ln in stages[name].lines for m in re.findall(r"--from=(\S+)", ln)]
    return wanted


def context_copies(stage: Stage) -> list[tuple[str, str]]:
    """(source, destination) of each COPY from the build context (no --from) in one stage."""
    copies, workdir = [], "/"
    for line in stage.lines:
        if line.upper().startswith("WORKDIR"):
            workdir = line.split(None, 1)[1]
        if line.upper().startswith("COPY") and "--from" not in line:
            parts = [p for p in line.split()[1:] if not p.startswith("--")]
            dest = parts[-1] if parts[-1].startswith("/") else f"{workdir.rstrip('/')}/{parts[-1]}"
            copies.extend((src.rstrip("/"), dest.rstrip("/")) for src in parts[:-1])
    return copies


def dockerfile_copies(dockerfile: Path, target: str | None, all_stages: bool = False) -> list[tuple[str, str]]:
    """(source, destination) of each context COPY in the target stage, or in every stage it builds."""
    stages = stages_of(dockerfile)
    built = built_stages(stages, target)
    chosen = built.values() if all_stages else [built[(target or list(stages)[-1]).lower()]]
    return [copy for stage in chosen for copy in context_copies(stage)]


def test_the_five_images_are_built_for_the_local_registry_from_the_python_and_frontend_dockerfiles(tilt):
    built = builds(tilt)
    assert sorted(built) == sorted(COMPONENTS)
    for component, (args, kw) in built.items():
        assert args[0] == f"localhost:5001/cartridge-{component}"
        if component in PYTHON_COMPONENTS:  # one Dockerfile for the Python services, a target each
            assert (kw["dockerfile"], kw["target"]) == ("services/Dockerfile", component)
        else:
            assert (kw["dockerfile"], kw["target"]) == ("services/frontend/Dockerfile", "dev")
        assert (REPO_ROOT / kw["dockerfile"]).is_file()
        context = REPO_ROOT / args[1]
        for path in kw.get("only", []):
            assert (context / path).exists() or path == ".wheels", f"{component}: only= path {path} does not exist"
        # The torch wheel directory goes only to the image that installs torch.
        assert (".wheels" in kw.get("only", [])) == (component == "trainer"), component
        # Every file the Dockerfile COPYs from the context must be inside only=.
        for source, _ in dockerfile_copies(REPO_ROOT / kw["dockerfile"], kw.get("target"), all_stages=True):
            if source.startswith(".wheel"):
                continue
            assert any(source == p or source.startswith(p.rstrip("/") + "/") for p in kw.get("only", [source])), (
                f"{component}: the Dockerfile copies {source}, which only= leaves out of the build context"
            )


def test_live_update_syncs_sources_to_where_the_dockerfile_copies_them(tilt):
    for component, (_, kw) in builds(tilt).items():
        steps = kw["live_update"]
        assert steps[0]["step"] == "fall_back_on", "fall_back_on must come first in live_update"
        copies = dockerfile_copies(REPO_ROOT / kw["dockerfile"], kw.get("target"))
        syncs = [s for s in steps if s["step"] == "sync"]
        assert syncs, f"{component} has no sync step"
        for step in syncs:
            src = step["src"]
            assert (REPO_ROOT / src).exists(), f"{component}: sync source {src} does not exist"
            expected = [
                dest + src[len(copy_src) :]
                for copy_src, dest in copies
                if src == copy_src or src.startswith(copy_src + "/")
            ]
            assert step["dest"] in expected, (
                f"{component}: sync {src} -> {step['dest']} does not match a COPY in the Dockerfile: {copies}"
            )


def pre_install_copies(dockerfile: Path, target: str | None) -> set[str]:
    """What the built stages COPY from the context that a RUN then reads: the files an install step uses
    (requirements, package.json, the venv script). A COPY counts when a RUN follows it in its own stage or
    in a built stage that builds on it; globs (the optional .wheel[s]) are left out."""
    built = built_stages(stages_of(dockerfile), target)

    def runs_in(name: str) -> bool:
        return any(line.upper().startswith("RUN") for line in built[name].lines)

    found = set()
    for name, stage in built.items():
        heirs = [other for other, s in built.items() if s.base == name]
        for i, line in enumerate(stage.lines):
            later = any(ln.upper().startswith("RUN") for ln in stage.lines[i + 1 :]) or any(map(runs_in, heirs))
            if line.upper().startswith("COPY") and "--from" not in line and later:
                sources = [w for w in line.split()[1:] if not w.startswith("--")][:-1]
                found |= {src for src in sources if not any(ch in src for ch in "*?[")}
    return found


def test_dependency_files_fall_back_to_a_full_rebuild(tilt):
    """fall_back_on names exactly what the Dockerfile copies in before installing, for every image."""
    for component, (_, kw) in builds(tilt).items():
        files = kw["live_update"][0]["files"]
        assert set(files) == pre_install_copies(REPO_ROOT / kw["dockerfile"], kw.get("target")), component
        for path in files:
            assert (REPO_ROOT / path).is_file(), f"{path} is named in fall_back_on but does not exist"


def test_pre_install_copies_reads_the_stages_the_target_builds():
    python = pre_install_copies(REPO_ROOT / "services/Dockerfile", "actor")
    assert python == {
        "services/cartridge/requirements.txt",
        "services/actor/requirements.txt",
        "services/make-venv.sh",
        "services/strip-installers.sh",
    }
    # Another service's requirements are not the actor's: its stages are not built for the actor.
    assert "services/trainer/requirements.txt" in pre_install_copies(REPO_ROOT / "services/Dockerfile", "trainer")
    # The Vite dev target builds on deps only; the release build stage's `COPY services/frontend/` is not its.
    dev = pre_install_copies(REPO_ROOT / "services/frontend/Dockerfile", "dev")
    assert dev == {"services/frontend/package.json", "services/frontend/package-lock.json"}


def test_k8s_yaml_is_the_local_overlay_with_the_dev_patch_only(tilt, applied):
    (path,), _ = tilt.first("kustomize")
    assert path == "k8s/local"
    rendered = [d for d in yaml.safe_load_all(render_kustomize(REPO_ROOT / "k8s/local")) if d]
    assert [(o["kind"], o["metadata"]["name"]) for o in applied] == [
        (o["kind"], o["metadata"]["name"]) for o in rendered
    ]
    by_name = workloads(applied)
    for component in COMPONENTS:
        for container in containers(by_name[component]):
            assert container["securityContext"]["readOnlyRootFilesystem"] is False
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            assert env.get("CARTRIDGE_RELOAD") == ("1" if component in PYTHON_COMPONENTS else None)
    # The Vite dev server replaces nginx under Tilt: it gets a dev server's memory, not nginx's.
    (vite,) = containers(by_name["frontend"])
    assert vite["resources"]["limits"]["memory"] == "768Mi"
    # Everything else stays exactly as k8s/local renders it.
    untouched = [o for o in applied if o["metadata"]["name"] not in COMPONENTS or o["kind"] != "Deployment"]
    assert untouched == [o for o in rendered if o["metadata"]["name"] not in COMPONENTS or o["kind"] != "Deployment"]


def test_workload_images_are_exactly_the_images_tilt_builds(tilt, applied):
    refs = {args[0] for args, _ in tilt.calls["docker_build"]}
    used = {
        re.sub(r":[^/:]+$", "", c["image"])  # drop the tag
        for o in workloads(applied).values()
        for c in containers(o)
        if "cartridge-" in c["image"]
    }
    assert used == refs


def test_resources_name_real_workloads_and_forward_real_container_ports(tilt, applied):
    check_resources(tilt, applied)


def check_resources(tilt, applied) -> None:
    """Every k8s_resource names a workload (or objects) of what the Tiltfile applies, depends on declared resources
    only, and forwards ports its containers serve."""
    by_name = workloads(applied)
    declared = [resource_name(args, kw) for args, kw in tilt.calls["k8s_resource"]]
    assert set(COMPONENTS) <= set(declared)
    objects = {f"{o['metadata']['name']}:{o['kind'].lower()}" for o in applied}
    for args, kw in tilt.calls["k8s_resource"]:
        name = resource_name(args, kw)
        for obj in kw.get("objects", []):
            assert obj in objects, f"k8s_resource({name!r}) names {obj}, which k8s/local does not have"
        if "objects" in kw:
            continue
        assert name in by_name, f"k8s_resource({name!r}) names no workload in k8s/local"
        for dep in kw.get("resource_deps", []):
            assert dep in declared, f"{name} depends on undeclared resource {dep}"
        container_ports = {p["containerPort"] for c in containers(by_name[name]) for p in c.get("ports", [])}
        for forward in kw.get("port_forwards", []):
            assert forward["container"] in container_ports, f"{name}: port {forward['container']} not served"
    deps = {resource_name(args, kw): kw.get("resource_deps", []) for args, kw in tilt.calls["k8s_resource"]}
    for pipeline in ("actor", "arena", "trainer"):
        assert "postgres" in deps[pipeline] and any(d.startswith("minio") for d in deps[pipeline])


def test_only_the_devtools_kind_context_is_allowed(tilt):
    (context,), _ = tilt.first("allow_k8s_contexts")
    assert context == ClusterSpec().context == "kind-cartridge"


def test_the_cluster_and_registry_devtools_chose_reach_tilt_through_its_environment():
    """`devtools up --cluster two --registry-port 5002`: Tilt is allowed that cluster's context, builds and pushes
    to that registry, and the manifests it applies pull from there (Tilt matches builds to them by name)."""
    from devtools.kind.names import KindNames
    from devtools.kind.runtime import KindOptions, KindRuntime

    spec = ClusterSpec.named(KindNames("two", "reg-two", 5002))
    given = KindRuntime(KindOptions(repo_root=REPO_ROOT, cluster=spec)).tilt_environment()
    env = {name: value for name, value in given.items() if name.startswith("CARTRIDGE_")}
    assert env == {"CARTRIDGE_CLUSTER": "two", "CARTRIDGE_REGISTRY_PORT": "5002"}
    result = evaluate_tiltfile(env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    tilt = TiltRecorder(json.loads(result.stdout))
    assert tilt.first("allow_k8s_contexts")[0] == (spec.context,) == ("kind-two",)
    assert {args[0] for args, _ in tilt.calls["docker_build"]} == {f"localhost:5002/cartridge-{c}" for c in COMPONENTS}
    (stream,), _ = tilt.first("k8s_yaml")
    pods = [pod_spec(w) for w in workloads([d for d in yaml.safe_load_all(stream) if d]).values()]
    images = {c["image"] for pod in pods for c in pod.get("initContainers", []) + pod["containers"]}
    ours = {image for image in images if "/cartridge-" in image}
    assert {image.rsplit(":", 1)[0] for image in ours} == {f"localhost:5002/cartridge-{c}" for c in COMPONENTS}


def test_a_registry_port_that_is_not_a_port_stops_the_tiltfile():
    result = evaluate_tiltfile(env={"CARTRIDGE_REGISTRY_PORT": "five"})
    assert result.returncode != 0 and "CARTRIDGE_REGISTRY_PORT=five: expected a port number" in result.stderr


def test_forwarded_local_ports_are_the_urls_devtools_prints(tilt):
    forwards = {
        resource_name(args, kw): [f["local"] for f in kw.get("port_forwards", [])]
        for args, kw in tilt.calls["k8s_resource"]
    }
    for name, url in URLS.items():
        if name in forwards:
            assert int(url.rsplit(":", 1)[1]) in forwards[name], (
                f"{name}: devtools prints {url}, Tilt forwards {forwards}"
            )
    assert int(URLS["minio-console"].rsplit(":", 1)[1]) in forwards["minio"]


def evaluated(*tilt_args: str) -> tuple[TiltRecorder, list[dict]]:
    result = evaluate_tiltfile(*tilt_args)
    assert result.returncode == 0, result.stderr[-3000:]
    recorded = TiltRecorder(json.loads(result.stdout))
    (stream,), _ = recorded.first("k8s_yaml")
    return recorded, [d for d in yaml.safe_load_all(stream) if d]


def test_devtools_monitoring_applies_the_kind_stack_and_forwards_grafana_and_prometheus():
    """`devtools up --runtime kind --monitoring` hands Tilt --monitoring=true: it applies k8s/local-monitoring (no
    prometheus-operator object, which kind could not apply) and forwards Grafana and Prometheus to the ports devtools
    prints. Without it: k8s/local, and neither resource."""
    args = tilt_args("up", "kind-cartridge", REPO_ROOT / "Tiltfile", None, None, monitoring=True)
    recorded, objects = evaluated(*args[args.index("--") + 1 :])
    (path,), _ = recorded.first("kustomize")
    assert path == "k8s/local-monitoring"
    rendered = [d for d in yaml.safe_load_all(render_kustomize(REPO_ROOT / path)) if d]
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        (o["kind"], o["metadata"]["name"]) for o in rendered
    ]
    assert not [o for o in objects if o["apiVersion"].startswith("monitoring.coreos.com/")]
    check_resources(recorded, objects)
    forwards = {
        resource_name(a, kw): [f["local"] for f in kw.get("port_forwards", [])]
        for a, kw in recorded.calls["k8s_resource"]
    }
    for name in ("grafana", "prometheus"):
        assert forwards[name] == [int(URLS[name].rsplit(":", 1)[1])], (name, forwards.get(name))
    # Grafana's links open each dashboard devtools/dashboards.py writes, by its uid.
    from devtools.dashboards import DIRECTORY

    (grafana,) = [kw for a, kw in recorded.calls["k8s_resource"] if resource_name(a, kw) == "grafana"]
    uids = {json.loads(path.read_text())["uid"] for path in DIRECTORY.glob("*.json")}
    assert sorted(link["url"] for link in grafana["links"]) == sorted(f"{URLS['grafana']}/d/{uid}" for uid in uids)
    plain, _ = evaluated()
    assert plain.first("kustomize")[0] == ("k8s/local",)
    assert not {"grafana", "prometheus"} & {resource_name(a, kw) for a, kw in plain.calls["k8s_resource"]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--monitoring"], "flag needs an argument: --monitoring"),  # Go's flag package: no boolean flag
        (["--monitoring=maybe"], 'invalid value "maybe" for flag --monitoring'),
    ],
)
def test_the_stand_in_parses_a_bool_setting_as_tilt_does(args, message):
    result = evaluate_tiltfile(*args)
    assert result.returncode != 0 and message in result.stderr, result.stderr[-2000:]
    recorded, _ = evaluated("--monitoring=false")
    assert recorded.first("kustomize")[0] == ("k8s/local",)


def test_devtools_actors_and_env_id_reach_the_manifests_through_tilt_config():
    args = tilt_args("up", "kind-cartridge", REPO_ROOT / "Tiltfile", 3, "connect4")
    result = evaluate_tiltfile(*args[args.index("--") + 1 :])
    assert result.returncode == 0, result.stderr[-3000:]
    (stream,), _ = TiltRecorder(json.loads(result.stdout)).first("k8s_yaml")
    objects = [d for d in yaml.safe_load_all(stream) if d]
    assert workloads(objects)["actor"]["spec"]["replicas"] == 3
    hpa = next(o for o in objects if o["kind"] == "HorizontalPodAutoscaler" and o["metadata"]["name"] == "actor")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 3)
    config = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "cartridge-config")
    assert config["data"]["ENV_ID"] == "connect4"
    assert tilt_args("up", "kind-cartridge", REPO_ROOT / "Tiltfile", None, None)[-1] != "--"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--actors", "0"], "--actors=0: expected a whole number from 1 to 64"),
        (["--actors=many"], "--actors=many: expected a whole number"),
    ],
)
def test_bad_tilt_config_stops_the_tiltfile_with_a_message(args, message):
    result = evaluate_tiltfile(*args)
    assert result.returncode != 0 and message in result.stderr, result.stderr[-2000:]


def test_an_unknown_flag_stops_the_tiltfile_before_it_builds_or_applies_anything():
    """Tilt's config.parse refuses a flag the Tiltfile did not define; the Tiltfile parses its config before
    its first docker_build or k8s_yaml, so a typo (--colour) never deploys half a stack."""
    result = evaluate_tiltfile("--colour", "red")
    assert result.returncode != 0 and "--colour" in result.stderr
    made = json.loads(result.stdout)
    assert made and not {"docker_build", "k8s_yaml", "k8s_resource", "kustomize"} & set(made), sorted(made)


def test_the_game_is_passed_through_and_checked_by_the_services_not_the_tiltfile():
    """The list of games lives in the services (they refuse an unknown ENV_ID at start-up, naming the
    accepted ones); the Tiltfile passes --env-id through unchanged instead of keeping a second list."""
    result = evaluate_tiltfile("--env-id", "chess")
    assert result.returncode == 0, result.stderr[-2000:]
    (stream,), _ = TiltRecorder(json.loads(result.stdout)).first("k8s_yaml")
    config = next(o for o in yaml.safe_load_all(stream) if o and o["metadata"]["name"] == "cartridge-config")
    assert config["data"]["ENV_ID"] == "chess"


# --- tilt ci's bounds (issue 22: faults 1 and 6) ---------------------------------------------------------------

# Seconds from apply to a scheduled pod, and to pull each image into the kind node (from kind-registry for ours,
# from Docker Hub for the others), unpacked at >= 7 MB/s on a busy 2-vCPU node: the trainer's 810 MB
# (bench_images) 120 s; every other image is under 300 MB, 40 s.
SCHEDULE_SECONDS = 10
PULL_SECONDS = {"trainer": 120}
OTHER_PULL_SECONDS = 40
# Start to first /health on a busy runner-sized node: the import measured on a quiet 2-core machine (trainer 2.5 s,
# torch; web 1.1 s; actor and arena 0.5 s) x 20 for a cold page cache and two cores shared with Tilt's builds,
# + 5 s to reach PostgreSQL and MinIO (ready before them: APP_DEPS).
BUSY_START_SECONDS = {"trainer": 55, "web": 27, "actor": 15, "arena": 15}
# Cold builds on 2 vCPU, in minutes: trainer 5 (torch's 190 MB wheel, a 900 MB venv, export and push of 810 MB),
# actor, arena and web 4 together, frontend 2; two at a time share the same two cores, so they add up.
COLD_BUILD_MINUTES = {"trainer": 5, "actor, arena, web": 4, "frontend": 2}
SLOW_RUNNER = 1.5  # a runner that builds half again as slowly as the estimate
MARGIN = 1.25  # every Tilt bound at least a quarter over what it must hold


def restart_allowance(container: dict) -> float:
    """Seconds the kubelet lets a container take to answer before restarting it: its startupProbe's window, else
    its livenessProbe's (Kubernetes' defaults: periodSeconds 10, failureThreshold 3)."""
    probe = container.get("startupProbe") or container.get("livenessProbe") or {}
    if not probe:
        return 0.0
    period, failures = probe.get("periodSeconds", 10), probe.get("failureThreshold", 3)
    return probe.get("initialDelaySeconds", 0) + period * failures


def ready_after(component: str, container: dict) -> float:
    """The longest a resource may take from its apply to Ready without the kubelet giving up on it: scheduling,
    the pull, the restart allowance and one readiness period."""
    pull = PULL_SECONDS.get(component, OTHER_PULL_SECONDS)
    readiness = container.get("readinessProbe", {}).get("periodSeconds", 10)
    return SCHEDULE_SECONDS + pull + restart_allowance(container) + readiness


def ci_bounds(tilt) -> dict[str, float]:
    from tests.tilt_eval import CI_SETTINGS_PARAMS, go_duration_seconds

    calls = tilt.calls.get("ci_settings", [])
    assert calls, "the Tiltfile sets no ci_settings: tilt ci would give up on a resource after Tilt's default 5m"
    ((args, kw),) = calls
    named = dict(zip(CI_SETTINGS_PARAMS, args, strict=False)) | kw
    return {name: go_duration_seconds(value) for name, value in named.items()}


def test_tilt_ci_waits_for_each_resource_longer_than_the_kubelet_does(tilt, applied):
    """Tilt's readiness clock starts at the deploy, so it holds the pull and the whole start-up allowance: it must
    outlast both, or `tilt ci` fails on a pod the kubelet is still patiently starting."""
    readiness = ci_bounds(tilt)["readiness_timeout"]
    for name, workload in workloads(applied).items():
        if workload["kind"] == "Job":
            continue  # Tilt's readiness timeout skips Jobs from v0.36.2 on (internal/controllers/core/session)
        if workload["kind"] == "CronJob":
            continue  # the match template: ready once applied (pod_readiness="ignore" in the Tiltfile)
        for container in containers(workload):
            needed = ready_after(name, container)
            assert readiness >= MARGIN * needed, (
                f"{name}: ready within {needed:.0f} s of its deploy at worst, tilt ci's readiness_timeout is "
                f"{readiness:.0f} s (needs {MARGIN:.2f} x that)"
            )


def test_every_python_service_may_start_twice_as_slowly_as_measured_before_a_restart(applied):
    by_name = workloads(applied)
    for name, seconds in BUSY_START_SECONDS.items():
        (container,) = containers(by_name[name])
        allowance = restart_allowance(container)
        assert allowance >= 2 * seconds, f"{name}: restarted after {allowance:.0f} s, starts in up to {seconds} s"


def test_tilt_ci_outlasts_a_cold_build_on_a_slow_runner_and_the_last_rollout(tilt):
    bounds = ci_bounds(tilt)
    needed = SLOW_RUNNER * sum(COLD_BUILD_MINUTES.values()) * 60 + bounds["readiness_timeout"]
    assert bounds["timeout"] >= needed, f"tilt ci's timeout {bounds['timeout']:.0f} s < {needed:.0f} s"
    assert bounds["timeout"] <= 30 * 60, "e2e.yml's time budget counts tilt ci at 30 minutes at most"


def test_the_stand_in_refuses_ci_settings_tilt_would_refuse(tmp_path):
    """Tilt's ci_settings takes k8s_grace_period, timeout and readiness_timeout, each a Go duration string."""
    for call in (
        "ci_settings(readiness_timeout=480)",
        'ci_settings(ready_timeout="8m")',
        'ci_settings(timeout="8 min")',
    ):
        (tmp_path / "Tiltfile").write_text(call + "\n")
        assert evaluate_tiltfile(tiltfile=tmp_path / "Tiltfile").returncode != 0, call
    (tmp_path / "Tiltfile").write_text('ci_settings("30s", "1h30m", readiness_timeout="8m")\n')
    result = evaluate_tiltfile(tiltfile=tmp_path / "Tiltfile")
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_pinned_tilt_is_one_whose_ci_readiness_clock_skips_builds_and_jobs(tilt):
    """tilt-dev/tilt#6664 (fixed by #6673, first released in v0.36.2): before it, every `<resource>:update` and
    every running Job counted as not ready, so a cold trainer build alone ran out the readiness timeout."""
    from devtools.pins import TILT_VERSION
    from devtools.tool_versions import satisfies

    assert satisfies(TILT_VERSION, ">=0.36.2"), f"devtools/pins.json pins Tilt {TILT_VERSION}, older than v0.36.2"
    args, kw = tilt.first("version_settings")
    constraint = kw.get("constraint", args[1] if len(args) > 1 else None)
    assert constraint == ">=0.36.2", f"the Tiltfile accepts Tilt {constraint}: an older one would start"
    assert satisfies(TILT_VERSION, constraint)
