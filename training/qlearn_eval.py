"""Rollouts of a trained Q-learning agent (torch) on an environment's utterances."""
from __future__ import annotations

import numpy as np
import torch

from .qlearn_env import LipEnvironment, rollout


@torch.no_grad()
def agent_lips(agent, environment: LipEnvironment, index: int, network: str = "online") -> np.ndarray:
    """(T, 3) lips of the greedy agent over one utterance, from the neutral mouth."""
    net = agent.online if network == "online" else agent.target
    net.eval()
    windows = torch.from_numpy(environment.utterance_windows(index))
    features = torch.cat([net.audio_features(chunk) for chunk in windows.split(256)])
    space = environment.space
    if not agent.config.observe_lips:  # the actions do not depend on the lips: choose them all at once
        actions = net.head(features, None).argmax(dim=1).numpy()
        return rollout(space, actions)
    lips, out = space.neutral.copy(), np.empty((len(features), 3), np.float32)
    for t in range(len(features)):
        q = net.head(features[t:t + 1], agent.normalise_lips(torch.from_numpy(lips)[None]))
        lips = space.apply(lips, int(q.argmax(dim=1)))
        out[t] = lips
    return out

