"""`devtools logs` on the kind runtime: `kubectl logs` of every pod of each component, found by its label.

One kubectl per component, `logs -l app.kubernetes.io/name=<component> --prefix --all-containers`: every pod of
the actor Deployment, not only the one `kubectl logs deployment/actor` picks, and each line tagged with its
pod and container (`[pod/actor-6d4f-x2x9z/actor] ...`, kubectl's --prefix), which becomes the line's source.
`--ignore-errors` keeps one pod that has no log (still starting; no previous container for --previous) from
ending the others'. Following several components runs their kubectls side by side and merges the lines as
they come.

Pods that start after a follow began are not picked up: `kubectl logs -l -f` lists the pods once (stern
watches for new ones; run the command again after a rollout).
"""

from __future__ import annotations

import queue
import re
import subprocess
import threading
from collections.abc import Callable, Iterator

from devtools.errors import DevtoolsError
from devtools.kind.cluster import kubectl_command
from devtools.logs import LogLine, LogQuery

COMPONENT_LABEL = "app.kubernetes.io/name"  # every workload and its pods carry it (k8s/base)
# kubectl's --prefix: "[pod/<pod>/<container>] <line>" (kubectl pkg/cmd/logs/logs.go, addPrefixIfNeeded).
_PREFIX = re.compile(r"\[pod/(?P<pod>[^/\]]+)/(?P<container>[^\]]+)\] (?P<text>.*)", re.DOTALL)
# More than kubectl's default of 5 concurrent streams: the actor scales to 4 pods, minio has 2 containers.
MAX_LOG_REQUESTS = 20


def logs_command(component: str, query: LogQuery, context: str, namespace: str) -> list[str]:
    """The kubectl argv for one component's logs, context and namespace first (kubectl_command)."""
    args = [
        "logs",
        "-l",
        f"{COMPONENT_LABEL}={component}",
        "--prefix",
        "--all-containers",
        "--ignore-errors",
        f"--tail={-1 if query.lines is None else query.lines}",
    ]
    if query.since is not None:
        args.append(query.since.kubectl_flag())
    if query.timestamps:
        args.append("--timestamps")
    if query.previous:
        args.append("--previous")
    if query.follow:
        args += ["-f", f"--max-log-requests={MAX_LOG_REQUESTS}"]
    return kubectl_command(*args, context=context, namespace=namespace)


def parse_line(component: str, raw: str) -> LogLine:
    """A line of ``kubectl logs --prefix`` as a LogLine from its pod (pod/container when the container is not
    the component's own, as minio's console); a line without the prefix (kubectl's own errors) is the
    component's. With --timestamps the time stays in the text, where kubectl put it."""
    tagged = _PREFIX.fullmatch(raw)
    if tagged is None:
        return LogLine(component, component, raw)
    pod, container = tagged.group("pod"), tagged.group("container")
    source = pod if container == component else f"{pod}/{container}"
    return LogLine(component, source, tagged.group("text"))


Popen = Callable[..., subprocess.Popen]


def kubectl_logs(
    components: list[str], query: LogQuery, context: str, namespace: str, popen: Popen = subprocess.Popen
) -> Iterator[LogLine]:
    """Each component's lines in turn; with ``query.follow`` every component's at once, until the caller
    stops (its kubectls are stopped then)."""
    procs: list[subprocess.Popen] = []
    try:
        for component in components:
            args = logs_command(component, query, context, namespace)
            try:
                proc = popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
            except FileNotFoundError:
                raise DevtoolsError(
                    "kubectl is not installed", "run `devtools doctor` to see where to get it"
                ) from None
            procs.append(proc)
            if not query.follow:
                for raw in proc.stdout:
                    yield parse_line(component, raw.rstrip("\n"))
                proc.wait()
        if query.follow:
            yield from _merge(list(zip(components, procs, strict=True)))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
            proc.wait()
            proc.stdout.close()


_END = object()


def _merge(streams: list[tuple[str, subprocess.Popen]]) -> Iterator[LogLine]:
    """The lines of every kubectl as they come, one reader thread each."""
    lines: queue.Queue = queue.Queue()

    def read(component: str, proc: subprocess.Popen) -> None:
        for raw in proc.stdout:
            lines.put(parse_line(component, raw.rstrip("\n")))
        lines.put(_END)

    for component, proc in streams:
        threading.Thread(target=read, args=(component, proc), name=f"logs-{component}", daemon=True).start()
    running = len(streams)
    while running:
        line = lines.get()
        if line is _END:
            running -= 1
        else:
            yield line
