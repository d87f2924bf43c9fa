"""One small-stack profile: the local runtime runs it, and every other small stack differs only as listed."""

from __future__ import annotations

from devtools.local import LocalConfig
from devtools.profiles import E2E_DIFFERENCES, LAPTOP_DIFFERENCES, SMALL_STACK, apply
from tests.k8s.render import by_kind, render


def test_the_local_runtime_runs_the_profile_as_it_is(tmp_path):
    web = next(c for c in LocalConfig(data_dir=tmp_path).components() if c.kind == "web")
    assert {name: web.env[name] for name in SMALL_STACK} == SMALL_STACK


def test_the_e2e_suite_differs_from_the_profile_only_where_it_says_why(tmp_path):
    from e2e.stacks import LocalStack

    stack = LocalStack(tmp_path / "data")
    web = next(c for c in stack.config.components() if c.kind == "web")
    wanted = apply(E2E_DIFFERENCES)
    used = {name: web.env.get(name) for name in wanted}
    assert used == wanted
    assert {name for name in wanted if used[name] != SMALL_STACK.get(name)} == set(E2E_DIFFERENCES)


def test_the_laptop_overlay_differs_from_the_profile_only_where_it_says_why():
    config = by_kind(render("k8s/local"), "ConfigMap")["cartridge-config"]["data"]
    wanted = apply(LAPTOP_DIFFERENCES)
    assert {name: config.get(name) for name in wanted} == wanted
    for name, (value, why) in {**E2E_DIFFERENCES, **LAPTOP_DIFFERENCES}.items():
        assert value != SMALL_STACK.get(name) and len(why) > 20, f"{name}: a difference says what and why"
