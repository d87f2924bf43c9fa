"""kind and docker as executables on PATH, so the real `devtools` CLI runs them as it runs the real tools.

kind cannot run here (no node image, no nested containers), and the docker CLI's only job in these tests is
`docker inspect` of kind's node containers. Both stand-ins keep one JSON state file: the clusters that exist,
and every call made. kubectl is the real binary, pointed by KUBECONFIG at tests/kube_api.FakeKubeAPI under
the cluster's context (kind-NAME), so a command that reached another cluster's context fails.

Each call also prints a line on stderr, as kind does ("enabling experimental podman provider"), so a test
can tell whether `devtools -v` showed it.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path

from devtools.pins import KIND_VERSION

SCRIPT = """#!{python}
import json, sys
from pathlib import Path

state_file = Path({state!r})
state = json.loads(state_file.read_text())
tool, args = {tool!r}, sys.argv[1:]
state["calls"].append([tool, *args])
out, err, code = "", f"fake {{tool}}: {{' '.join(args)}}\\n", 0
if tool == "kind" and args == ["version"]:
    out = "kind v{kind_version} go1.24.0 linux/amd64\\n"
elif tool == "kind" and args[:2] == ["get", "clusters"]:
    out = "".join(f"{{name}}\\n" for name in state["clusters"])
    err += "" if state["clusters"] else "No kind clusters found.\\n"
elif tool == "kind" and args[:2] == ["get", "nodes"]:
    name = args[args.index("--name") + 1]
    out = f"{{name}}-control-plane\\n" if name in state["clusters"] else ""
elif tool == "kind" and args[:2] == ["delete", "cluster"]:
    name = args[args.index("--name") + 1]
    state["clusters"] = [c for c in state["clusters"] if c != name]
    err += f"Deleting cluster {{name!r}} ...\\n"
elif tool == "docker" and args[:1] == ["inspect"]:
    out = "".join(f"{{node}}-id\\n" for node in args[3:])
else:
    err, code = f"fake {{tool}} does not know: {{args}}\\n", 2
state_file.write_text(json.dumps(state))
sys.stdout.write(out)
sys.stderr.write(err)
sys.exit(code)
"""


class FakeTools:
    """``bin``: a directory with `kind`, `docker` and the real `kubectl`, to put first on PATH."""

    def __init__(self, root: Path, clusters: tuple[str, ...] = ()) -> None:
        self.bin = root / "bin"
        self.bin.mkdir(parents=True)
        self.state = root / "fake-tools.json"
        self.state.write_text(json.dumps({"clusters": list(clusters), "calls": []}))
        for tool in ("kind", "docker"):
            path = self.bin / tool
            path.write_text(
                SCRIPT.format(python=sys.executable, state=str(self.state), tool=tool, kind_version=KIND_VERSION)
            )
            path.chmod(path.stat().st_mode | stat.S_IXUSR)
        (self.bin / "kubectl").symlink_to(shutil.which("kubectl") or "/usr/bin/kubectl")

    @property
    def path(self) -> str:
        return f"{self.bin}{os.pathsep}{os.environ['PATH']}"

    @property
    def clusters(self) -> list[str]:
        return json.loads(self.state.read_text())["clusters"]

    def calls(self, tool: str | None = None) -> list[str]:
        return [" ".join(c) for c in json.loads(self.state.read_text())["calls"] if tool in (None, c[0])]
