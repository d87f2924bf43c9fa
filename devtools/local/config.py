"""What the local runtime runs, where, and with which settings."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

from cartridge.games import DEFAULT_GAME
from devtools import ports
from devtools.paths import REPO_ROOT
from devtools.profiles import SMALL_STACK
from devtools.tool_versions import probe

from . import prometheus

PYTHON_KINDS = ("actor", "trainer", "web", "arena")  # each imports services/<kind>/cartridge_<kind>


# The variable that moves the local runtime's data directory (`devtools --data-dir`'s), so two checkouts or two
# stacks of one checkout keep apart.
DATA_DIR_VARIABLE = "CARTRIDGE_DATA_DIR"
DEFAULT_DATA_DIR = REPO_ROOT / ".cartridge" / "local"


def default_data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_VARIABLE) or DEFAULT_DATA_DIR)


def frontend_tools_problem() -> str | None:
    """Why node and npm cannot run the Vite dev server (node missing or older than package.json's engines; no
    npm), or None. Vite 7 refuses an older Node at start-up, which the supervisor would restart forever."""
    return _frontend_tools_problem(os.environ.get("PATH", ""))


@lru_cache(maxsize=4)
def _frontend_tools_problem(path: str) -> str | None:  # ``path``: PATH, what probe searches, keys the cache
    for name in ("node", "npm"):
        status = probe(name)
        if not status.ok:
            return f"{status.problem}: {status.tool.install_hint}"
    return None


@dataclass(frozen=True)
class Component:
    name: str
    kind: str  # actor | trainer | web | arena | frontend
    command: list[str]
    port: int
    env: dict[str, str]
    cwd: str
    health_path: str = "/health"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class LocalConfig:
    data_dir: Path = field(default_factory=default_data_dir)
    env_id: str = DEFAULT_GAME
    actors: int = 1
    web_port: int = ports.LOCAL_WEB
    frontend_port: int = ports.LOCAL_FRONTEND
    trainer_port: int = ports.LOCAL_TRAINER
    actor_base_port: int = ports.LOCAL_ACTOR_BASE
    arena_port: int = ports.LOCAL_ARENA
    frontend: bool = True
    monitoring: bool = False  # `up --monitoring`: a Prometheus scraping every service (devtools.local.prometheus)
    prometheus_port: int = ports.LOCAL_PROMETHEUS
    settings: dict[str, str] = field(default_factory=dict)  # overrides of SMALL_STACK
    source_root: Path = REPO_ROOT / "services"  # watched for hot reload

    @property
    def frontend_dir(self) -> Path:
        return REPO_ROOT / "services" / "frontend"

    def frontend_available(self) -> tuple[bool, str]:
        if not self.frontend:
            return False, "disabled (--no-frontend)"
        if problem := frontend_tools_problem():
            return False, problem
        if not (self.frontend_dir / "package.json").exists():
            return False, f"no package.json in {self.frontend_dir}"
        return True, ""

    def components(self) -> list[Component]:
        data = self.data_dir.resolve()
        base = {
            **SMALL_STACK,
            "ENV_ID": self.env_id,
            "REPLAY_URL": f"sqlite:///{data}/replay.db",
            "MODEL_STORE_URL": f"file://{data}/models",
            "CHECKPOINT_DIR": str(data / "checkpoints"),
            "HTTP_HOST": "127.0.0.1",
            **self.settings,
        }
        # The services import their code from source_root (the repository's services/ unless told
        # otherwise), so what the watcher sees edited is what the restarted process runs.
        src = self.source_root.resolve()
        pythonpath = os.pathsep.join(str(p) for p in (src, *(src / k for k in PYTHON_KINDS)))
        base["PYTHONPATH"] = os.pathsep.join(filter(None, (pythonpath, os.environ.get("PYTHONPATH"))))
        python = [sys.executable, "-m"]
        cwd = str(REPO_ROOT)
        found = [
            Component(
                "trainer",
                "trainer",
                [*python, "cartridge_trainer"],
                self.trainer_port,
                base | {"HTTP_PORT": str(self.trainer_port)},
                cwd,
            ),
            Component(
                "web", "web", [*python, "cartridge_web"], self.web_port, base | {"HTTP_PORT": str(self.web_port)}, cwd
            ),
            # Rates each new model by play (cartridge.arena): its own process, so it never slows the trainer.
            Component(
                "arena",
                "arena",
                [*python, "cartridge_arena"],
                self.arena_port,
                base | {"HTTP_PORT": str(self.arena_port)},
                cwd,
            ),
        ]
        for i in range(self.actors):
            port = self.actor_base_port + i
            found.append(
                Component(
                    f"actor-{i}",
                    "actor",
                    [*python, "cartridge_actor"],
                    port,
                    base | {"HTTP_PORT": str(port), "ACTOR_ID": f"actor-{i}"},
                    cwd,
                )
            )
        if self.monitoring:
            found.append(
                Component(
                    "prometheus",
                    "prometheus",
                    prometheus.command(data, self.prometheus_port),
                    self.prometheus_port,
                    {},
                    cwd,
                    health_path="/-/ready",
                )
            )
        if self.frontend_available()[0]:
            vite = ["npm", "run", "dev", "--", "--host", "127.0.0.1", "--port", str(self.frontend_port), "--strictPort"]
            found.append(
                Component(
                    "frontend",
                    "frontend",
                    vite,
                    self.frontend_port,
                    {"FRONTEND_PORT": str(self.frontend_port), "WEB_URL": f"http://127.0.0.1:{self.web_port}"},
                    str(self.frontend_dir),
                    health_path="/",
                )
            )
        return found

    def to_json(self) -> str:
        data = asdict(self)
        data["data_dir"], data["source_root"] = str(self.data_dir), str(self.source_root)
        return json.dumps(data)

    @classmethod
    def from_json(cls, raw: str) -> LocalConfig:
        data = json.loads(raw)
        data["data_dir"], data["source_root"] = Path(data["data_dir"]), Path(data["source_root"])
        return cls(**data)
