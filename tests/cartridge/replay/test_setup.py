"""cartridge.replay.setup against a real PostgreSQL server: one role per workload, each able to do its own
work through the services' own code and nothing more, created by the set-up alone."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from cartridge.replay import IterationRecord, ReplayUnavailable, open_replay, training_log_beside
from cartridge.replay.setup import (
    GRANTS,
    WORKLOADS,
    Login,
    SetupError,
    logins_from_env,
    main,
    run_setup,
    schema_statements,
)
from cartridge.settings import Settings


def role_url(superuser_url: str, login: Login) -> str:
    """The database of ``superuser_url``, logged in as ``login`` (whose password a trust server ignores)."""
    scheme, rest = superuser_url.split("://", 1)
    return f"{scheme}://{login.role}:{login.password}@{rest.split('@', 1)[-1]}"


@pytest.fixture
def logins(postgres_database) -> Iterator[dict[str, Login]]:
    """One login per workload, named apart from other tests' (roles are the server's, not the database's)."""
    suffix = uuid.uuid4().hex[:8]
    made = {w: Login(w, f"{w}_{suffix}", f"{w}-pw-{suffix}") for w in WORKLOADS}
    yield made
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        for login in made.values():
            if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login.role,)).fetchone():
                conn.execute(f'DROP OWNED BY "{login.role}"')
                conn.execute(f'DROP ROLE "{login.role}"')


@pytest.fixture
def set_up(postgres_database, logins) -> dict[str, str]:
    """The set-up run (the replay schema alone, whichever modules this checkout holds); each workload's REPLAY_URL."""
    run_setup(postgres_database, list(logins.values()), modules=())
    return {w: role_url(postgres_database, login) for w, login in logins.items()}


def denied(url: str, statement: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege:
            return True
    return False


def test_the_actor_appends_episodes_and_may_not_delete_them(set_up, make_episode):
    with open_replay(set_up["actor"]) as replay:
        episode = make_episode("tictactoe")
        replay.append_episode(episode)
        replay.append_episode(episode)  # a retry after a lost commit: ON CONFLICT, nothing added
    with open_replay(set_up["trainer"]) as replay:
        assert replay.count_episodes("tictactoe") == 1
    assert denied(set_up["actor"], "DELETE FROM episodes")
    assert denied(set_up["actor"], "DELETE FROM transitions")
    assert denied(set_up["actor"], "SELECT * FROM transitions")
    assert denied(set_up["actor"], "INSERT INTO iterations (env_id) VALUES ('x')")


def test_the_trainer_samples_records_iterations_and_prunes(set_up, make_episode):
    with open_replay(set_up["actor"]) as actor:
        episodes = [make_episode("tictactoe") for _ in range(20)]
        for episode in episodes:
            actor.append_episode(episode)
    with open_replay(set_up["trainer"]) as replay:
        assert replay.sample("tictactoe", 32, 1000).observations.shape[0] == 32
        log = training_log_beside(replay)
        for _ in range(2):  # the second write replaces the first (the upsert's UPDATE)
            log.record_iteration(IterationRecord("tictactoe", 1, 1, 0.5, 0.25, 0.75, 20, 100, 1.5))
        assert log.last_iteration("tictactoe") == 1
        assert replay.prune("tictactoe", max_transitions=10) > 0
        assert replay.counts("tictactoe").stored_transitions < sum(len(e.transitions) for e in episodes)
    assert denied(set_up["trainer"], "INSERT INTO episodes (episode_id) VALUES ('x')")


def test_the_web_reads_its_stats_and_may_not_write(set_up, make_episode, tmp_path):
    from cartridge.modelstore import open_model_store
    from cartridge_web.stats_cache import TrainingProgress

    with open_replay(set_up["actor"]) as actor:
        actor.append_episode(make_episode("tictactoe"))
    settings = Settings.from_env({"ENV_ID": "tictactoe", "REPLAY_URL": set_up["web"]})
    progress = TrainingProgress(settings, None, open_model_store(f"file://{tmp_path}/models"))
    snapshot = progress._read()  # what /stats serves, read through the web's own code
    assert snapshot.replay_problem is None and snapshot.episodes == 1
    progress._replay.close()
    assert denied(set_up["web"], "INSERT INTO episodes (episode_id) VALUES ('x')")
    assert denied(set_up["web"], "DELETE FROM replay_counters")
    assert denied(set_up["web"], "SELECT * FROM transitions")


def test_the_arena_records_ratings_as_its_role_and_the_web_reads_them(postgres_database, logins):
    from cartridge.arena.ratings_store import MatchRow, RatingsStore, VersionResult

    run_setup(postgres_database, list(logins.values()))  # with the arena's schema module, as the Job runs it
    urls = {w: role_url(postgres_database, login) for w, login in logins.items()}
    arena = RatingsStore.open(urls["arena"])  # its role runs no DDL: the tables are the set-up's
    match = MatchRow("m1", "tictactoe", "v2", "minimax", 4, 0, 4, 0, 0.5, 0.2, 0.8, 7, 1.0, 2.0, {"id": "m1"})
    try:
        arena.record_skipped("tictactoe", {1: "published while busy"})
        arena.record(VersionResult("tictactoe", 2, "rated", rating=120.0, games=0), [])
        # `devtools match` stores each match as the arena (`python -m cartridge_arena.match record`), once.
        assert arena.record_match(match) is True and arena.record_match(match) is False
    finally:
        arena.close()
    web = RatingsStore.open(urls["web"])
    try:
        assert web.statuses("tictactoe") == {1: "skipped", 2: "rated"}
        assert web.matches() == [match]
    finally:
        web.close()
    assert denied(urls["web"], "INSERT INTO arena_versions (env_id, version) VALUES ('x', 9)")
    assert denied(urls["web"], "INSERT INTO arena_matches (match_id) VALUES ('x')")
    assert denied(urls["arena"], "DELETE FROM arena_matches")
    assert denied(urls["web"], "SELECT * FROM arena_games")
    assert denied(urls["arena"], "DELETE FROM arena_versions")
    assert denied(urls["arena"], "INSERT INTO episodes (episode_id) VALUES ('x')")


def granted(url: str, roles: set[str]) -> set[tuple[str, str, str]]:
    """(role, table or table.column or sequence, privilege) of every grant to ``roles``, as the server holds them."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT grantee::regrole::text, relname, privilege_type FROM pg_class, aclexplode(relacl) "
            "WHERE grantee <> 0 UNION SELECT grantee::regrole::text, relname || '.' || attname, privilege_type "
            "FROM pg_attribute JOIN pg_class ON pg_class.oid = attrelid, aclexplode(attacl) WHERE grantee <> 0"
        ).fetchall()
    return {row for row in rows if row[0] in roles}


def declared(logins: dict[str, Login]) -> set[tuple[str, str, str]]:
    """GRANTS as ``granted`` reads them: 'SELECT (episode_id)' on episodes is (role, 'episodes.episode_id', ...)."""
    wanted = set()
    for workload, grants in GRANTS.items():
        for name, privileges in grants.items():
            for privilege in privileges:
                verb, _, column = privilege.partition(" ")
                if not name.startswith("arena_"):
                    wanted.add((logins[workload].role, f"{name}.{column.strip('()')}" if column else name, verb))
    return wanted


def scram_matches(verifier: str, password: str) -> bool:
    """Does ``password`` match the server's stored SCRAM-SHA-256 verifier (RFC 5802: StoredKey)?"""
    _, iterations_salt, keys = verifier.split("$")
    iterations, salt = iterations_salt.split(":")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(salt), int(iterations))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    return hashlib.sha256(client_key).digest() == base64.b64decode(keys.split(":")[0])


def test_the_set_up_is_idempotent_and_sets_a_changed_password(postgres_database, logins, set_up):
    roles = {login.role for login in logins.values()}
    before = granted(postgres_database, roles)
    assert before == declared(logins)
    changed = {**logins, "actor": Login("actor", logins["actor"].role, "a-new-password")}
    run_setup(postgres_database, list(changed.values()), modules=())
    assert granted(postgres_database, roles) == before
    with psycopg.connect(postgres_database) as conn:
        (verifier,) = conn.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", (logins["actor"].role,)
        ).fetchone()
    assert scram_matches(verifier, "a-new-password") and not scram_matches(verifier, logins["actor"].password)


def test_a_grant_given_by_hand_is_taken_back(postgres_database, logins, set_up):
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute(f'GRANT DELETE ON episodes TO "{logins["web"].role}"')
    run_setup(postgres_database, list(logins.values()), modules=())
    assert denied(set_up["web"], "DELETE FROM episodes")


def test_a_restricted_role_runs_no_ddl_on_an_existing_schema(postgres_database, set_up):
    """The web's role may not create anything: opening succeeds only because nothing is created."""
    with psycopg.connect(set_up["web"], autocommit=True) as conn:
        assert not conn.execute("SELECT has_schema_privilege('public', 'CREATE')").fetchone()[0]
    with open_replay(set_up["web"]) as replay:
        assert replay.counts().episodes == 0


def test_a_missing_schema_fails_with_one_sentence_naming_the_set_up(postgres_database, logins):
    web = logins["web"]
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE \"{web.role}\" LOGIN PASSWORD '{web.password}'")
    with pytest.raises(ReplayUnavailable, match=r"replay schema is missing .* run the postgres-setup Job") as info:
        open_replay(role_url(postgres_database, web))
    assert "episodes" in str(info.value) and web.password not in str(info.value)


def test_the_superuser_still_creates_the_schema_itself(postgres_database):
    with open_replay(postgres_database) as replay:
        assert replay.counts().episodes == 0


def test_bad_configuration_is_named():
    env = {f"{w.upper()}_{k}": f"{w}-{k}" for w in WORKLOADS for k in ("PGUSER", "PGPASSWORD")}
    assert len(logins_from_env(env)) == len(WORKLOADS)
    with pytest.raises(SetupError, match="TRAINER_PGPASSWORD not set"):
        logins_from_env({**env, "TRAINER_PGPASSWORD": ""})
    with pytest.raises(SetupError, match="one identity per workload"):
        logins_from_env({**env, "WEB_PGUSER": env["ACTOR_PGUSER"]})
    assert main({**env, "REPLAY_URL": "sqlite:///tmp/x.db"}) == 1


def test_a_workload_may_not_be_the_superuser(postgres_database, logins):
    superuser = postgres_database.split("://", 1)[1].split("@", 1)[0].split(":")[0]
    with pytest.raises(SetupError, match="superuser"):
        run_setup(postgres_database, [Login("web", superuser, "x")])


def test_the_actor_service_plays_and_writes_as_its_role(set_up, tmp_path, start_service):
    """The real actor process, its REPLAY_URL naming its own role as in the cluster."""
    from tests.actor.test_actor import actor_env

    env = actor_env(tmp_path, ACTOR_MAX_EPISODES="4", REPLAY_URL=set_up["actor"])
    actor = start_service("cartridge_actor", env, "actor")
    assert actor.wait(timeout=120) == 0, actor.log_text()
    with open_replay(set_up["web"]) as replay:
        assert replay.counts("tictactoe").episodes == 4


def test_the_job_runs_the_module_from_its_environment(postgres_database, logins):
    """What the postgres-setup Job runs, configured as k8s/ configures it."""
    env = {"REPLAY_URL": postgres_database, "PATH": os.environ["PATH"]}
    for login in logins.values():
        env |= {f"{login.workload.upper()}_PGUSER": login.role, f"{login.workload.upper()}_PGPASSWORD": login.password}
    done = subprocess.run([sys.executable, "-m", "cartridge.replay.setup"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "the replay database is ready" in done.stderr and logins["web"].password not in done.stderr
    assert denied(role_url(postgres_database, logins["web"]), "INSERT INTO episodes (episode_id) VALUES ('x')")
    done = subprocess.run(
        [sys.executable, "-m", "cartridge.replay.setup"], env={**env, "WEB_PGUSER": ""}, capture_output=True, text=True
    )
    assert done.returncode == 1 and done.stderr.strip() == (
        "setup failed: WEB_PGUSER not set: every workload needs its own role and password"
    )


def test_the_schema_hook_runs_a_modules_schema_and_skips_an_absent_module():
    from cartridge.replay import sqlite

    assert schema_statements(("cartridge.replay.sqlite", "cartridge.no_such_module")) == list(sqlite.SCHEMA)
    assert schema_statements(("cartridge.replay.no_such_module",)) == []
