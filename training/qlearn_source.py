"""The Q-learning family's data side for the shared trainer: the agent acts, a replay memory fills, and
each optimizer step gets a minibatch of transitions.

Everything random is a function of (seed, environment step), and the memory, the agent's lips, the
episode position and the per-episode records are checkpoint state, so a run resumed after a kill
continues exactly as an unbroken one. The memory stores (utterance, frame) indices rather than audio
windows (a million 4800-sample windows would take 19 GB); windows are cut again when sampled.

Per episode it records the agent's summed reward next to the lazy, random and greedy agents' on the
same frames, the mean TD loss and epsilon (RUN/episodes.csv), and the per-step rewards over the end of
the first episode (RUN/episode1_tail.csv): the paper's three figures, plotted by `eval-qlearn`.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from backend.fileio import write_text_atomic
from backend.lip_actions import N_ACTIONS, reward

from .qlearn_env import LipEnvironment, greedy_action

EPISODE_COLUMNS = ("episode", "env_step", "agent_reward", "lazy_reward", "random_reward", "greedy_reward",
                   "mean_loss", "epsilon", "frames")
TAIL_STEPS = 2000
AGENTS = ("agent", "lazy", "random", "greedy")
REPLAY_FIELDS = {"utt": np.int32, "frame": np.int32, "next_utt": np.int32, "next_frame": np.int32,
                 "action": np.int64, "reward": np.float32}


@dataclass(frozen=True)
class EpisodeStream:
    """The frames of one episode: the utterances in a seeded order, one after another, repeated as needed."""

    order: np.ndarray
    offsets: np.ndarray  # first stream position of each utterance in `order`, then the total

    @classmethod
    def of(cls, lengths: np.ndarray, seed: int, episode: int) -> "EpisodeStream":
        order = np.random.default_rng([seed, episode, 7]).permutation(len(lengths))
        return cls(order, np.concatenate([[0], np.cumsum(lengths[order])]))

    def locate(self, position: int) -> tuple[int, int]:
        """(utterance, frame) at a position of the stream."""
        position %= int(self.offsets[-1])
        slot = int(np.searchsorted(self.offsets, position, side="right") - 1)
        return int(self.order[slot]), int(position - self.offsets[slot])


class ReplaySource:
    def __init__(self, agent, config, train_config, environment: LipEnvironment,
                 validation: LipEnvironment | None, run_dir, is_main: bool):
        self.agent, self.config, self.env, self.validation = agent, config, environment, validation
        self.batch_size, self.seed, self.val_items = train_config.batch_size, train_config.seed, train_config.val_items
        self.run_dir, self.is_main = Path(run_dir), is_main
        capacity = config.replay_size
        self.memory = {name: np.zeros(capacity, dtype) for name, dtype in REPLAY_FIELDS.items()}
        self.memory["lips"] = np.zeros((capacity, 3), np.float32)
        self.memory["next_lips"] = np.zeros((capacity, 3), np.float32)
        self.filled, self.cursor, self.env_step = 0, 0, 0
        self.episode, self.position = 0, 0  # position: frames into this episode's utterance order
        self.lips = self._neutral_lips()
        self.totals = self._fresh_totals()
        self.rows: list[dict] = []
        self.tail = np.zeros(min(TAIL_STEPS, config.episode_steps), np.float32)
        self._features: dict[int, torch.Tensor] = {}
        self.stream = EpisodeStream.of(environment.lengths, self.seed, 0)

    # -- position in the stream -----------------------------------------------------------------------
    def _neutral_lips(self) -> dict[str, np.ndarray]:
        return {name: self.env.space.neutral.copy() for name in AGENTS}

    def _fresh_totals(self) -> dict:
        return {**{name: 0.0 for name in AGENTS}, "loss": 0.0, "updates": 0, "frames": 0}

    def epsilon(self) -> float:
        c = self.config
        fraction = min(1.0, self.env_step / max(1, c.epsilon_decay_steps))
        return c.epsilon_start + (c.epsilon_end - c.epsilon_start) * fraction

    # -- acting ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def _acting_features(self, utterance: int) -> torch.Tensor:
        """Audio features of one utterance's frames under the acting network (cached for the target network,
        which only changes when it is synced)."""
        network = self.agent.acting_network()
        if self.config.act_with == "target" and utterance in self._features:
            return self._features[utterance]
        network.eval()
        windows = torch.from_numpy(self.env.utterance_windows(utterance))
        features = torch.cat([network.audio_features(chunk) for chunk in windows.split(256)])
        if self.config.act_with == "target":
            self._features[utterance] = features
        return features

    @torch.no_grad()
    def _greedy_policy_action(self, utterance: int, frame: int, lips: np.ndarray) -> int:
        network = self.agent.acting_network()
        network.eval()
        features = self._acting_features(utterance)[frame:frame + 1]
        lips_in = self.agent.normalise_lips(torch.from_numpy(lips)[None])
        return int(network.head(features, lips_in).argmax(dim=1))

    def _act(self, rng: np.random.Generator, utterance: int, frame: int) -> int:
        if rng.random() < self.epsilon():
            return int(rng.integers(N_ACTIONS))
        return self._greedy_policy_action(utterance, frame, self.lips["agent"])

    def _environment_step(self) -> None:
        rng = np.random.default_rng([self.seed, self.env_step])
        utterance, frame = self.stream.locate(self.position)
        if frame == 0:  # every utterance starts from a closed, neutral mouth, like its speaker
            self.lips = self._neutral_lips()
        action = self._act(rng, utterance, frame)
        space, target = self.env.space, self.env.utterances[utterance].targets[frame]
        before = self.lips["agent"]
        after = space.apply(before, action)
        self.lips["agent"] = after
        self.lips["random"] = space.apply(self.lips["random"], int(rng.integers(N_ACTIONS)))
        self.lips["greedy"] = space.apply(self.lips["greedy"], greedy_action(space, self.lips["greedy"], target))
        rewards = {name: float(reward(self.lips[name], target)) for name in AGENTS}
        next_utterance, next_frame = self.stream.locate(self.position + 1)
        self._remember(utterance, frame, before, action, rewards["agent"], next_utterance, next_frame,
                       space.neutral if next_frame == 0 else after)
        for name in AGENTS:
            self.totals[name] += rewards[name]
        self.totals["frames"] += 1
        tail_start = self.config.episode_steps - len(self.tail)
        if self.episode == 0 and self.position >= tail_start:
            self.tail[self.position - tail_start] = rewards["agent"]
        self.env_step += 1
        self.position += 1
        if self.env_step % self.config.target_every == 0:
            self.agent.sync_target()
            self._features.clear()
        if self.position >= self.config.episode_steps:
            self._end_episode()

    def _remember(self, utt, frame, lips, action, value, next_utt, next_frame, next_lips) -> None:
        i, m = self.cursor, self.memory
        m["utt"][i], m["frame"][i], m["lips"][i], m["action"][i], m["reward"][i] = utt, frame, lips, action, value
        m["next_utt"][i], m["next_frame"][i], m["next_lips"][i] = next_utt, next_frame, next_lips
        self.cursor = (self.cursor + 1) % len(m["utt"])
        self.filled = min(self.filled + 1, len(m["utt"]))

    def _end_episode(self) -> None:
        t = self.totals
        self.rows.append({"episode": self.episode, "env_step": self.env_step,
                          **{f"{name}_reward": t[name] for name in AGENTS},
                          "mean_loss": t["loss"] / t["updates"] if t["updates"] else math.nan,
                          "epsilon": self.epsilon(), "frames": t["frames"]})
        self._write_records()
        self.episode, self.position, self.totals = self.episode + 1, 0, self._fresh_totals()
        self.stream = EpisodeStream.of(self.env.lengths, self.seed, self.episode)

    # -- the trainer's side ---------------------------------------------------------------------------
    def batches(self, model):
        """One minibatch of transitions per optimizer step, after `update_every` environment steps each."""
        while True:
            for _ in range(self.config.update_every):
                self._environment_step()
            if self.filled >= max(self.config.learn_start, self.batch_size):
                yield self._sample(np.random.default_rng([self.seed, self.env_step, 1]))

    def _sample(self, rng: np.random.Generator) -> dict:
        pick = rng.integers(0, self.filled, size=self.batch_size)
        m = self.memory
        return {"windows": torch.from_numpy(self.env.windows(m["utt"][pick], m["frame"][pick])),
                "next_windows": torch.from_numpy(self.env.windows(m["next_utt"][pick], m["next_frame"][pick])),
                "lips": torch.from_numpy(m["lips"][pick]), "next_lips": torch.from_numpy(m["next_lips"][pick]),
                "actions": torch.from_numpy(m["action"][pick]), "rewards": torch.from_numpy(m["reward"][pick])}

    def after_step(self, loss: float, metrics: dict) -> None:
        self.totals["loss"] += loss
        self.totals["updates"] += 1

    @property
    def epoch(self) -> int:
        return self.episode

    def validate(self, agent) -> tuple[float, float]:
        """(-mean reward per frame, mean squared error per lip measure) of the greedy online agent on the
        first `val_items` validation utterances."""
        if self.validation is None:
            return math.nan, math.nan
        from .qlearn_eval import agent_lips

        total, frames = 0.0, 0
        for index in range(min(self.val_items, len(self.validation))):
            targets = self.validation.utterances[index].targets
            total += float(reward(agent_lips(agent, self.validation, index), targets).sum())
            frames += len(targets)
        per_frame = -total / max(1, frames)
        return per_frame, per_frame / 3.0

    # -- checkpoint state ------------------------------------------------------------------------------
    def state(self) -> tuple[dict[str, np.ndarray], dict]:
        tensors = {f"memory.{name}": values[:self.filled] for name, values in self.memory.items()}
        tensors |= {f"lips.{name}": value for name, value in self.lips.items()}
        tensors["tail"] = self.tail
        scalars = {"filled": self.filled, "cursor": self.cursor, "env_step": self.env_step, "episode": self.episode,
                   "position": self.position, "totals": self.totals, "rows": self.rows}
        return tensors, _json_safe(scalars)

    def load_state(self, tensors: dict[str, np.ndarray], scalars: dict) -> None:
        self.filled, self.cursor, self.env_step = scalars["filled"], scalars["cursor"], scalars["env_step"]
        for name, values in self.memory.items():
            values[:self.filled] = tensors[f"memory.{name}"]
        self.lips = {name: tensors[f"lips.{name}"].copy() for name in AGENTS}
        self.tail = tensors["tail"].copy()
        self.totals = {k: (math.nan if v is None else v) for k, v in scalars["totals"].items()}
        self.rows = [{k: (math.nan if v is None else v) for k, v in row.items()} for row in scalars["rows"]]
        self.episode, self.position = scalars["episode"], scalars["position"]
        self.stream = EpisodeStream.of(self.env.lengths, self.seed, self.episode)
        self._features.clear()

    def _write_records(self) -> None:
        if not self.is_main:
            return
        write_text_atomic(self.run_dir / "episodes.csv", csv_text(EPISODE_COLUMNS, self.rows))
        if self.episode == 0:
            cumulative = np.cumsum(self.tail.astype(np.float64))
            start = self.config.episode_steps - len(self.tail)
            rows = [{"step": start + i, "reward": float(r), "cumulative_reward": float(c)}
                    for i, (r, c) in enumerate(zip(self.tail, cumulative))]
            write_text_atomic(self.run_dir / "episode1_tail.csv", csv_text(("step", "reward", "cumulative_reward"), rows))


def csv_text(columns, rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value
