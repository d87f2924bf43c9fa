"""tests/promtool.py: a missing promtool fails the run wherever it could be installed, and skips only elsewhere."""

from __future__ import annotations

import shutil

import pytest

from tests.promtool import INSTALL, promtool


@pytest.mark.parametrize(
    ("ci", "apt_get", "outcome"),
    [
        ("true", None, pytest.fail.Exception),
        (None, "/usr/bin/apt-get", pytest.fail.Exception),
        (None, None, pytest.skip.Exception),
    ],
)
def test_a_missing_promtool_fails_in_ci_and_where_apt_get_could_bring_it_and_skips_elsewhere(
    monkeypatch, ci, apt_get, outcome
):
    tools = {"apt-get": apt_get}
    monkeypatch.setattr(shutil, "which", lambda name: tools.get(name))  # a machine without promtool
    monkeypatch.delenv("CI", raising=False)
    if ci:
        monkeypatch.setenv("CI", ci)
    with pytest.raises((pytest.fail.Exception, pytest.skip.Exception)) as raised:
        promtool()
    assert raised.type is outcome
    assert INSTALL in str(raised.value)
