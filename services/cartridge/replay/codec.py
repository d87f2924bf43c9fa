"""Compact, exact encoding of transitions: observation planes as uint8 (they are 0/1), policy as float32."""

from __future__ import annotations

import numpy as np

from cartridge.games import get_game

from .base import Transition


def encode_observation(obs: np.ndarray) -> bytes:
    packed = obs.astype(np.uint8)
    if not np.array_equal(packed, obs):
        raise ValueError("observation planes must hold only 0 and 1 to be stored exactly")
    return packed.tobytes()


def encode_policy(policy: np.ndarray) -> bytes:
    return np.ascontiguousarray(policy, dtype=np.float32).tobytes()


def check_transitions(env_id: str, transitions: list[Transition]) -> None:
    """Raise ValueError naming what is wrong before anything is written."""
    game = get_game(env_id)
    if not transitions:
        raise ValueError(f"{env_id} episode has no transitions: an episode is at least one move")
    for i, t in enumerate(transitions):
        if t.step != i:
            raise ValueError(f"{env_id} transition {i} has step {t.step} (steps run 0..n-1 in order)")
        if t.observation.shape != game.observation_shape or t.policy.shape != (game.action_size,):
            raise ValueError(
                f"{env_id} step {t.step}: observation {t.observation.shape} / policy {t.policy.shape} "
                f"do not match {game.observation_shape} / ({game.action_size},)"
            )


def decode_batch(env_id: str, observations: list[bytes], policies: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    game = get_game(env_id)
    obs = np.frombuffer(b"".join(observations), dtype=np.uint8).reshape(len(observations), *game.observation_shape)
    pol = np.frombuffer(b"".join(policies), dtype=np.float32).reshape(len(policies), game.action_size)
    return obs.astype(np.float32), pol.copy()


def decode_transition(
    env_id: str, step: int, observation: bytes, policy: bytes, value: float, action: int
) -> Transition:
    obs, pol = decode_batch(env_id, [bytes(observation)], [bytes(policy)])
    return Transition(step=step, observation=obs[0], policy=pol[0], value=float(value), action=int(action))
