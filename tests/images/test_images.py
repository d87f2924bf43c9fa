"""The five images, built and run for real: healthy, non-root, read-only root, a working pipeline, pushable.

A module-wide stack runs all five hardened as in the cluster (read-only root, /tmp tmpfs, no
capabilities) on one Docker network: the web with a published model mounted, an actor writing episodes,
a trainer publishing the next model, the arena rating the models, and the frontend proxying /api and
/stats to the web at its default upstream (http://web:8080).
"""

from __future__ import annotations

import json
import os

import pytest

from cartridge.games import get_game
from cartridge.modelstore import open_model_store
from cartridge_trainer.network import PolicyValueNet, export_onnx
from testkit.support import wait_until
from tests.frontend.chromium import CHROMIUM, play
from tests.images.conftest import (
    HTTP_PORT,
    Containers,
    exec_text,
    host_port,
    http,
    wait_answering,
    writable_data_dir,
)

pytestmark = pytest.mark.docker
PYTHON = ("actor", "arena", "trainer", "web")
PIPELINE_ENV = {
    "ENV_ID": "tictactoe",
    "REPLAY_URL": "sqlite:////data/replay.db",
    "MODEL_STORE_URL": "file:///data/models",
    "CHECKPOINT_DIR": "/data/checkpoints",
    "MCTS_MAX_SIMS": "8",
    "ACTOR_PARALLEL_GAMES": "8",
    "MODEL_POLL_SECONDS": "1",
    "EPISODES_PER_ITERATION": "100",
    "TRAIN_STEPS_PER_ITERATION": "5",
    "BATCH_SIZE": "32",
    "TRAINING_ITERATIONS": "0",
    "ARENA_GAMES": "2",
    "ARENA_SIMS": "8",
}


def url(container, path: str) -> str:
    return f"http://127.0.0.1:{host_port(container, HTTP_PORT[container.labels['component']])}{path}"


@pytest.fixture(scope="module")
def stack(client, images, tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    game = get_game("tictactoe")
    os.umask(0o022)
    open_model_store(f"file://{data}/models").publish("tictactoe", export_onnx(PolicyValueNet(game), game))
    writable_data_dir(data)
    started = Containers(client)
    net = started.network()
    volumes = {str(data): {"bind": "/data", "mode": "rw"}}
    running = {}
    for component in ("web", "actor", "arena", "trainer"):
        running[component] = started.run(
            images[component].ref,
            HTTP_PORT[component],
            environment=PIPELINE_ENV,
            volumes=volumes,
            labels={"component": component},
            network=net,
            name=f"{net}-{component}",
            networking_config={net: client.api.create_endpoint_config(aliases=[component])},
        )
    running["frontend"] = started.run(
        images["frontend"].ref, 8080, labels={"component": "frontend"}, network=net, name=f"{net}-frontend"
    )
    for component, container in running.items():
        wait_answering(container, "/healthz" if component == "frontend" else "/health", HTTP_PORT[component])
    yield running
    started.remove_all()


def test_every_service_answers_its_health_check(stack):
    for component in PYTHON:
        status, _, body = http(url(stack[component], "/health"))
        assert status == 200 and json.loads(body)["status"] == "ok", component
    assert http(url(stack["frontend"], "/healthz"))[0] == 200
    status, _, body = http(url(stack["frontend"], "/"))
    assert status == 200 and b'<div id="app">' in body


def test_python_images_report_healthy_to_docker(stack):
    # The images' HEALTHCHECK (for docker run and compose; Kubernetes probes the same /health).
    for component in PYTHON:
        container = stack[component]

        def healthy(c=container):
            c.reload()
            return c.attrs["State"]["Health"]["Status"] == "healthy"

        wait_until(healthy, 90, f"{component} to be healthy")


def test_processes_run_as_uid_10001_on_a_read_only_root(stack):
    for component, container in stack.items():
        uids = exec_text(container, "grep '^Uid:' /proc/1/status").split()[1:]
        assert uids == ["10001"] * 4, (component, uids)
        code = "/usr/share/nginx/html/index.html" if component == "frontend" else "/app/services/cartridge/mcts.py"
        for path in (code, "/etc/passwd", "/x"):
            assert "Read-only file system" in exec_text(container, f"touch {path} 2>&1", user="0"), (component, path)
        assert exec_text(container, "touch /tmp/ok && echo written").strip() == "written", component


def test_web_serves_the_mounted_model(stack):
    model = wait_until(
        lambda: (m := json.loads(http(url(stack["web"], "/api/model"))[2]))["has_model"] and m,
        30,
        "the mounted model to load",
    )
    assert model["env_id"] == "tictactoe" and model["version"] >= 1
    status, _, body = http(url(stack["web"], "/api/games"), {"env_id": "tictactoe", "human_player": 2})
    assert status == 200 and json.loads(body)["model_move"] is not None


def test_frontend_proxies_api_and_stats_to_the_web_at_its_default_upstream(stack):
    frontend, web = stack["frontend"], stack["web"]
    assert json.loads(http(url(frontend, "/api/model"))[2])["env_id"] == "tictactoe"
    status, _, body = http(url(frontend, "/api/games"), {"env_id": "tictactoe", "human_player": 1})
    assert status == 200 and json.loads(body)["legal_actions"] == list(range(9))
    assert http(url(frontend, "/api/games/move"), {"env_id": "nope", "moves": [], "action": 0})[0] == 422
    stats = json.loads(http(url(frontend, "/stats"))[2])
    assert set(stats) == set(json.loads(http(url(web, "/stats"))[2]))


def test_the_containers_run_the_pipeline_episodes_training_and_rollout(stack):
    # Actor episodes reach the replay file, the trainer (PyTorch CPU in its image) trains and publishes
    # the next ONNX model, and the web swaps it in: each image doing its real job.
    web = stack["web"]
    wait_until(lambda: json.loads(http(url(web, "/stats"))[2])["episodes"] > 0, 60, "episodes in /stats")
    wait_until(lambda: json.loads(http(url(web, "/api/model"))[2])["version"] >= 2, 240, "the trainer's model")
    assert json.loads(http(url(stack["trainer"], "/health"))[2])["iteration"] >= 1
    # The trainer image keeps ONNX Runtime's quantization tooling: it publishes int8, not the fp32 fallback.
    logs = stack["trainer"].logs().decode()
    assert "precision=int8" in logs or '"precision": "int8"' in logs, logs[-3000:]


def test_the_arena_rates_the_models_and_the_web_shows_the_ratings(stack):
    # The arena image (the actor's venv: ONNX Runtime, no PyTorch) plays the mounted model and writes its rating
    # into the shared replay database, where the web's /stats reads it.
    wait_until(lambda: json.loads(http(url(stack["arena"], "/health"))[2])["rated_version"], 180, "a rated version")
    arena = wait_until(
        lambda: (a := json.loads(http(url(stack["web"], "/stats"))[2])["arena"])["versions"] and a,
        30,
        "the ratings in /stats",
    )
    rated = [v for v in arena["versions"] if v["status"] == "rated"]
    assert rated and set(arena["references"]) <= set(rated[0]["scores"]), arena


def test_frontend_serves_the_spa_with_fallback_and_cache_headers(stack):
    frontend = stack["frontend"]
    status, headers, body = http(url(frontend, "/"))
    assert headers["Cache-Control"] == "no-cache" and headers["X-Content-Type-Options"] == "nosniff"
    routed = http(url(frontend, "/some/client/route"))
    assert routed[0] == 200 and routed[2] == body
    asset = next(p for p in body.decode().split('"') if p.startswith("/assets/") and p.endswith(".js"))
    status, headers, _ = http(url(frontend, asset))
    assert status == 200 and headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert http(url(frontend, "/assets/missing-0000.js"))[0] == 404


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


def test_frontend_sends_its_content_security_policy_on_every_path(stack):
    frontend = stack["frontend"]
    asset = next(a for a in http(url(frontend, "/"))[2].decode().split('"') if a.startswith("/assets/"))
    for path in ("/", "/some/client/route", asset, "/healthz", "/assets/missing-0000.js"):
        headers = http(url(frontend, path))[1]
        assert headers["Content-Security-Policy"] == CSP and headers["X-Frame-Options"] == "DENY", path
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["Referrer-Policy"] == "same-origin", path


def test_a_person_plays_a_game_in_chromium_under_that_policy(stack, frontend_dir, tmp_path):
    """The built SPA, served by nginx with its CSP, played by clicking in real headless Chromium: a policy
    that blocked the app's own scripts, styles or API calls would show as violations or a stuck game."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM} (make system-deps installs it)")
    result = play(frontend_dir, url(stack["frontend"], "/"), tmp_path, PLAY_ONLY="1")
    assert result["status"].startswith("Game over") and result["moves"] >= 3, result
    assert result["cspViolations"] == [] and result["pageErrors"] == [], result


def test_frontend_reports_healthy_to_docker_where_its_image_has_wget(stack):
    container = stack["frontend"]
    if "not found" in exec_text(container, "command -v wget || echo not found"):
        pytest.skip("this nginx base (the Debian stand-in) has no wget; the upstream alpine image's busybox does")

    def healthy():
        container.reload()
        return container.attrs["State"]["Health"]["Status"] == "healthy"

    wait_until(healthy, 60, "the frontend to be healthy")


def test_frontend_refuses_a_malformed_upstream_with_one_line(containers, images):
    container = containers.run(images["frontend"].ref, environment={"WEB_UPSTREAM": "web:8080; evil"})
    assert container.wait(timeout=30)["StatusCode"] == 2
    logs = container.logs().decode().strip()
    assert logs == "frontend: WEB_UPSTREAM=web:8080; evil is not a URL like http://web:8080 (scheme://host[:port])"


def test_every_service_stops_cleanly_on_sigterm(containers, images, tmp_path):
    data = writable_data_dir(tmp_path)
    volumes = {str(data): {"bind": "/data", "mode": "rw"}}
    running = {
        c: containers.run(images[c].ref, HTTP_PORT[c], environment=PIPELINE_ENV, volumes=volumes) for c in PYTHON
    }
    upstream = {"WEB_UPSTREAM": "http://127.0.0.1:9"}  # nothing there: nginx resolves it, never calls it
    running["frontend"] = containers.run(images["frontend"].ref, 8080, environment=upstream)
    for component, container in running.items():
        wait_answering(container, "/healthz" if component == "frontend" else "/health", HTTP_PORT[component])
    for component, container in running.items():
        container.stop(timeout=30)  # SIGTERM (SIGQUIT for nginx: graceful), SIGKILL only after 30 s
        container.reload()
        assert container.attrs["State"]["ExitCode"] == 0, (component, container.logs().decode()[-2000:])
