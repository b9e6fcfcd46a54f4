"""`mouthpiece-train qlearn --data CORPUS --out RUN`: train the Q-learning lip agent (DQN) on corpus speech.

The small config (the defaults: 15,000 updates over 62,000 environment steps, 12 episodes) trains on the
2-core CPU in about 45 minutes. The paper's config, 1 M environment steps in 33 episodes
with an update at every step, is for a GPU: `--steps 1000000 --update-every 1 --episode-steps 30303
--replay-size 1000000 --epsilon-start 1e-4 --epsilon-end 1e-4 --learn-start 32 --channels 16,32,32,256
--pools 16,4,4,0 --gamma 0.9 --device cuda` (its replay memory keeps indices, not audio, so it fits in about 50 MB).
A training step is one optimizer update, taken after `--update-every` environment steps. Run it again
with the same --out to resume; RUN/model.{safetensors,json} is the exported best agent (highest
validation reward), RUN/episodes.csv the per-episode rewards against the lazy, random and greedy agents.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from backend.errors import InputError, ToolError

from .args import not_corpora, option, parse, split_list


@dataclass
class Args:
    data: str = option(help="corpus folder(s) with 2-D landmark labels, comma-separated")
    out: str = option(help="run folder: checkpoints, metrics.csv, loss.png, episodes.csv, model.*")
    languages: str = option("es", "languages to train on, comma-separated (empty: all); the paper's is Spanish")
    voices: str = option("", "train only on these voices, comma-separated (e.g. espeak:es-419): one speaker as in "
                             "the paper")
    observe_lips: bool = option(True, "give the agent its own lip measures (the paper's proposed future work)")
    steps: int = option(15_000, "optimizer updates in all (environment steps = steps x update-every + warm-up)")
    update_every: int = option(4, "environment steps per optimizer update")
    episode_steps: int = option(5_000, "environment steps per episode")
    batch_size: int = option(32, "transitions per update")
    lr: float = option(1e-3, "the paper's alpha: Adam's learning rate")
    gamma: float = option(0.5, "discount (0.5 learned better than 0.9 here: see assets/eval/qlearn)")
    replay_size: int = option(50_000, "transitions the replay memory holds")
    learn_start: int = option(2_000, "environment steps before the first update")
    target_every: int = option(1_000, "environment steps between target-network copies (the paper: 1000)")
    act_with: str = option("target", "network that chooses actions", choices=("target", "online"))
    epsilon_start: float = option(1.0, "exploration at the start (the paper: 1e-4 throughout)")
    epsilon_end: float = option(0.01, "exploration after the decay")
    epsilon_decay_steps: int = option(10_000, "environment steps of linear epsilon decay")
    channels: str = option("8,16,16,64", "channels of the four pairs of convolutions (the paper: 16,32,32,256)")
    pools: str = option("16,4,4,4", "max pooling after each pair (0: a global max over time, as in the paper's "
                                     "reference code, which forgets where in the 300 ms a sound was)")
    fc_hidden: int = option(64, "units of the first fully connected layer")
    loss: str = option("huber", "TD error penalty", choices=("huber", "mse"))
    seed: int = option(0, "seed for weights, exploration, replay sampling and episode order")
    eval_every: int = option(500, "updates between validation rollouts and checkpoints")
    val_items: int = option(24, "validation utterances per rollout")
    threads: int = option(1, "torch CPU threads")
    device: str = option("cpu", "cpu or cuda", choices=("auto", "cpu", "cuda"))
    resume: bool = option(True, "continue the run found in --out")


def model_config(args: Args):
    from .families.qlearn import QLearnConfig

    return QLearnConfig(observe_lips=args.observe_lips, channels=tuple(int(c) for c in split_list(args.channels)),
                        pools=tuple(int(p) for p in split_list(args.pools)),
                        fc_hidden=args.fc_hidden, gamma=args.gamma, loss=args.loss, replay_size=args.replay_size,
                        update_every=args.update_every, learn_start=args.learn_start, target_every=args.target_every,
                        act_with=args.act_with, epsilon_start=args.epsilon_start, epsilon_end=args.epsilon_end,
                        epsilon_decay_steps=args.epsilon_decay_steps, episode_steps=args.episode_steps)


def train_config(args: Args):
    from .trainer import TrainConfig

    return TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup_steps=0, final_lr_ratio=1.0,
                       seed=args.seed, eval_every=args.eval_every, log_every=50, val_items=args.val_items,
                       threads=args.threads, device=args.device, resume=args.resume, amp=False)


def environments(args: Args, config):
    from .qlearn_env import LipEnvironment

    roots = split_list(args.data)
    common = dict(fps=config.fps, window=config.window, languages=split_list(args.languages))
    train = LipEnvironment(roots, "train", voices=split_list(args.voices), step_small=config.step_small,
                           step_large=config.step_large, **common)
    validation = LipEnvironment(roots, "val", space=train.space, **common)
    return train, validation


def main(argv: list[str] | None = None) -> int:
    args = parse(Args, argv, "mouthpiece-train qlearn", __doc__.splitlines()[0])
    if missing := not_corpora(args.data):
        print(f"mouthpiece-train qlearn: {missing[0]}: not a corpus (no manifest.jsonl)", file=sys.stderr)
        return 2
    from .registry import get_family
    from .trainer import Trainer

    try:
        config = model_config(args)
        train, validation = environments(args, config)
        about = {"command": ["mouthpiece-train", "qlearn", *(sys.argv[1:] if argv is None else argv)],
                 "data": args.data, "train_utterances": len(train), "train_frames": train.frames,
                 "val_utterances": len(validation), "languages": args.languages, "voices": args.voices}
        trainer = Trainer(get_family("qlearn"), config, train_config(args), train, validation, args.out, about=about)
        metrics = trainer.fit()
    except (InputError, ToolError, ValueError) as err:
        print(f"mouthpiece-train qlearn: {err}", file=sys.stderr)
        return 2
    print(f"done: update {trainer.step}, best validation reward per frame {-trainer.best_val:.2f} px^2, "
          f"model in {Path(args.out, 'model.json')}; last metrics {metrics}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
