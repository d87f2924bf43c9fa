"""Time budgets: every e2e test's waits fit inside its pytest-timeout with margin, and e2e.yml's job budget, written
beside its timeout-minutes, adds up and leaves at least a quarter free."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from devtools.paths import REPO_ROOT

E2E_TESTS = sorted((REPO_ROOT / "e2e").glob("test_*.py"))
WAIT_SHARE = 0.8  # a test's waits may take 80 % of its timeout; the rest is for its reads, matches and asserts
JOB_SHARE = 0.75  # the expected job may take 75 % of timeout-minutes: 25 % headroom


def module_constants(tree: ast.Module) -> dict[str, object]:
    """Top-level NAME = expression assignments that evaluate from literals and earlier such names."""
    constants: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                constants[node.targets[0].id] = eval(
                    compile(ast.Expression(node.value), "<e2e>", "eval"), {"__builtins__": {}}, dict(constants)
                )
            except Exception:  # anything not computable from constants is not a bound
                continue
    return constants


def value(node: ast.expr, constants: dict[str, object]) -> float | None:
    try:
        found = eval(compile(ast.Expression(node), "<e2e>", "eval"), {"__builtins__": {}}, dict(constants))
    except Exception:  # a bound computed at run time (what is left of another) adds nothing
        return None
    return float(found) if isinstance(found, int | float) else None


def waits(function: ast.FunctionDef, functions: dict[str, ast.FunctionDef], constants, seen=()) -> list[float]:
    """The bound of every wait_until in a function and in the module's functions it calls, in the order met."""
    found = []
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "wait_until" and len(node.args) >= 2:
                bound = value(node.args[1], constants)
                found += [bound] if bound is not None else []
            elif node.func.id in functions and node.func.id not in seen:
                found += waits(functions[node.func.id], functions, constants, (*seen, function.name))
    return found


def timeout_of(function: ast.FunctionDef, constants, default: float) -> float:
    for decorator in function.decorator_list:
        if isinstance(decorator, ast.Call) and ast.unparse(decorator.func) == "pytest.mark.timeout":
            return value(decorator.args[0], constants)
    return default


def test_budgets(path: Path) -> dict[str, tuple[list[float], float]]:
    """Each test function's waits and its pytest-timeout bound."""
    default = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["timeout"]
    tree = ast.parse(path.read_text())
    constants = module_constants(tree)
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    return {
        name: (waits(f, functions, constants), timeout_of(f, constants, float(default)))
        for name, f in functions.items()
        if name.startswith("test_")
    }


test_budgets.__test__ = False  # a helper, not a test


@pytest.mark.parametrize("path", E2E_TESTS, ids=lambda p: p.name)
def test_every_e2e_tests_waits_fit_inside_its_timeout_with_margin(path):
    for name, (found, timeout) in test_budgets(path).items():
        assert sum(found) <= WAIT_SHARE * timeout, (
            f"{path.name}::{name} may wait {' + '.join(f'{w:.0f}' for w in found)} = {sum(found):.0f} s, "
            f"more than {WAIT_SHARE:.0%} of its {timeout:.0f} s timeout"
        )


def test_the_wait_check_reads_waits_through_helpers_and_constants(tmp_path):
    source = tmp_path / "test_x.py"
    source.write_text(
        "import pytest\nFIRST = 240\nSECOND = FIRST + 120\n"
        "def helper():\n    wait_until(lambda: True, SECOND, 'b')\n"
        "def test_a():\n    wait_until(lambda: True, FIRST, 'a')\n    helper()\n"
        "@pytest.mark.timeout(2 * 600)\ndef test_b():\n    wait_until(lambda: True, 10, 'c')\n"
    )
    assert test_budgets(source) == {"test_a": ([240.0, 360.0], 600.0), "test_b": ([10.0], 1200.0)}


BUDGET = re.compile(r"^\s*#\s+budget\s+(\d+(?:\.\d+)?)\s+\S", re.MULTILINE)
TOTAL = re.compile(r"^\s*#\s+total\s+(\d+(?:\.\d+)?) of (\d+): (\d+(?:\.\d+)?) % headroom", re.MULTILINE)


def test_the_e2e_jobs_budget_adds_up_and_keeps_a_quarter_free():
    path = REPO_ROOT / ".github/workflows/e2e.yml"
    text = path.read_text()
    minutes = [float(m) for m in BUDGET.findall(text)]
    assert minutes, "e2e.yml writes no time budget (`# budget MINUTES what` lines above the job's timeout-minutes)"
    timeout = yaml.safe_load(text)["jobs"]["kind"]["timeout-minutes"]
    total = TOTAL.search(text)
    assert total, "the budget ends with `# total X of TIMEOUT: H % headroom`"
    stated, of, headroom = float(total[1]), int(total[2]), float(total[3])
    assert stated == pytest.approx(sum(minutes)) and of == timeout
    assert headroom == pytest.approx(100 * (1 - sum(minutes) / timeout), abs=0.05)
    assert sum(minutes) <= JOB_SHARE * timeout, f"{sum(minutes)} of {timeout} minutes leaves less than 25 %"


def test_the_budget_holds_the_bounded_steps_expectations_not_more_than_their_bounds():
    """The chaos step's own bound and tilt ci's timeout are the most they can take; the budget may not count
    them as more, and the job's timeout must hold the rest with both at their bounds."""
    text = (REPO_ROOT / ".github/workflows/e2e.yml").read_text()
    job = yaml.safe_load(text)["jobs"]["kind"]
    chaos = next(s for s in job["steps"] if "-m chaos" in s.get("run", ""))
    lines = {line.split(None, 3)[3]: float(line.split()[2]) for line in re.findall(r"#\s+budget .*", text)}
    chaos_budget = next(m for what, m in lines.items() if what.startswith("chaos"))
    tilt_budget = next(m for what, m in lines.items() if what.startswith("tilt ci"))
    assert chaos_budget <= chaos["timeout-minutes"] and tilt_budget <= 30
    rest = sum(lines.values()) - chaos_budget - tilt_budget
    assert rest + chaos["timeout-minutes"] + 30 <= job["timeout-minutes"], "both bounds reached would end the job"
