"""`mouthpiece-train tacotron --data CORPUS --out RUN --stage tts|landmarks`: train the Tacotron lips family.

Stage 1 (`--stage tts`) teaches a Tacotron 2 one voice's speech at 16 kHz, hop 200 (80 fps). Stage 2
(`--stage landmarks --init-from RUN1/model`) trains the landmark decoder with the encoder, embedding and
gate frozen, on 3-D lip displacements (mm) of the same frames. The utterances of the chosen voices are
split by id: `--val-items` of them validate (held-out sentences), the rest train; `--train-items` keeps
only that many training utterances (the paper's landmark set is 80 clips).

The small config (the defaults; r = 3, 256-unit LSTMs, guided attention) trains stage 1 in about an hour
and a Table I row of stage 2 in minutes on a 2-core CPU. The paper's size, for a GPU: `--embedding 512
--encoder-lstm 256 --attention-rnn 1024 --decoder-rnn 1024 --landmark-rnn 1024 --attention-dim 128
--location-filters 32 --prenet 256,256 --postnet-channels 512 --frames-per-step 1 --guided-attention 0
--batch-size 64 --steps 50000 --device cuda` for stage 1, and `--batch-size 8 --lr 2e-3 --steps 5000` for
stage 2. Run it again with the same --out to resume; RUN/model.{safetensors,json} is the best model.
"""
from __future__ import annotations

import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

from backend.errors import InputError, ToolError

from .args import not_corpora, option, parse, split_list


@dataclass
class Args:
    data: str = option(help="corpus folder(s), comma-separated")
    out: str = option(help="run folder: checkpoints, metrics.csv, loss.png, model.*")
    stage: str = option("tts", "tts: speech (mel, gate); landmarks: the lip decoder on a frozen encoder",
                        choices=("tts", "landmarks"))
    voices: str = option("espeak:en-us", "voices to train on, comma-separated (empty: all)")
    languages: str = option("en", "languages to train on, comma-separated (empty: all)")
    max_seconds: float = option(6.0, "leave out utterances longer than this")
    val_items: int = option(48, "utterances held out for validation (chosen by id)")
    train_items: int = option(0, "keep only this many training utterances (0: all)")
    init_from: str = option("", "start from this checkpoint's weights (path without suffix), e.g. RUN1/model")
    freeze: str = option("", "parts kept fixed (embedding, encoder, mel_decoder, mel_postnet, gate); the "
                             "landmarks stage defaults to embedding,encoder,gate when --init-from is given")
    frames_per_step: int = option(3, "r: frames per decoder step (the paper: 1)")
    embedding: int = option(256, "character embedding and encoder convolution channels")
    encoder_lstm: int = option(128, "encoder BiLSTM units per direction")
    attention_rnn: int = option(256, "mel decoder attention LSTM units")
    decoder_rnn: int = option(256, "mel decoder LSTM units")
    landmark_rnn: int = option(256, "landmark decoder LSTM units")
    attention_dim: int = option(64, "attention dimension")
    location_filters: int = option(16, "location-sensitive attention filters")
    prenet: str = option("128,128", "mel pre-net sizes")
    postnet_channels: int = option(256, "post-net channels")
    mel_postnet: bool = option(True, "the mel post-net")
    landmark_prenet: bool = option(False, "a pre-net on the landmark decoder's input (the paper drops it)")
    landmark_postnet: bool = option(False, "a post-net on the landmarks (the paper drops it)")
    landmark_input: str = option("lips", "what the landmark decoder hears each step besides the text: lips, its own "
                                         "last frame (the paper); mel, the speech it is in step with; none",
                                 choices=("lips", "mel", "none"))
    guided_attention: float = option(1.0, "weight of the guided-attention loss (0: the paper)")
    steps: int = option(3000, "optimizer steps in all")
    batch_size: int = option(16, "utterances per step")
    lr: float = option(1e-3, "peak Adam learning rate")
    seed: int = option(0, "seed for weights, shuffling and dropout")
    eval_every: int = option(100, "steps between validation passes and checkpoints")
    threads: int = option(2, "torch CPU threads")
    device: str = option("auto", "auto, cpu or cuda", choices=("auto", "cpu", "cuda"))
    resume: bool = option(True, "continue the run found in --out")


def model_config(args: Args):
    """The options' config; a landmarks stage started from a tts run keeps that run's architecture and audio
    settings (a converted NVIDIA checkpoint's included) and takes only the landmark options from here."""
    import dataclasses

    from .families.tacotron import TacotronConfig

    freeze = split_list(args.freeze)
    if args.stage == "landmarks" and args.init_from:
        from backend import checkpoints

        base = TacotronConfig.from_dict(checkpoints.load(args.init_from).config["model"])
        return dataclasses.replace(base, stage="landmarks", landmark_rnn=args.landmark_rnn,
                                   landmark_prenet=args.landmark_prenet, landmark_postnet=args.landmark_postnet,
                                   landmark_input=args.landmark_input, guided_attention=args.guided_attention,
                                   freeze=freeze or ("embedding", "encoder", "gate"))
    return TacotronConfig(stage=args.stage, frames_per_step=args.frames_per_step, embedding=args.embedding,
                          encoder_lstm=args.encoder_lstm, attention_rnn=args.attention_rnn, decoder_rnn=args.decoder_rnn,
                          landmark_rnn=args.landmark_rnn, attention_dim=args.attention_dim,
                          location_filters=args.location_filters, prenet=tuple(int(p) for p in split_list(args.prenet)),
                          postnet_channels=args.postnet_channels, mel_postnet=args.mel_postnet,
                          landmark_prenet=args.landmark_prenet, landmark_postnet=args.landmark_postnet,
                          landmark_input=args.landmark_input, guided_attention=args.guided_attention,
                          freeze=freeze)


def train_config(args: Args):
    from .trainer import TrainConfig

    pretrained = ("embedding", "encoder", "mel_decoder", "gate", "mel_postnet")
    return TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       warmup_steps=min(100, args.steps // 10), eval_every=args.eval_every, val_items=args.val_items,
                       threads=args.threads, device=args.device, resume=args.resume, init_from=args.init_from,
                       init_parts=pretrained if args.stage == "landmarks" else (), bucket_by_length=True, amp=False)


def is_held_out(utterance_id: str, val_items: int, total: int) -> bool:
    """About `val_items` of `total` utterances, chosen by a hash of the id (stable as the corpus grows)."""
    return zlib.crc32(utterance_id.encode()) % 100_000 < 100_000 * val_items / max(1, total)


def datasets(args: Args, config):
    """(train, val) over the chosen voices and languages of every corpus split, held out by id."""
    from .dataset import CorpusDataset

    voices, languages = set(split_list(args.voices)), set(split_list(args.languages))
    halves = []
    for held_out in (False, True):
        data = CorpusDataset(split_list(args.data), None, "tacotron", fps=config.fps, seed=args.seed,
                             text_symbols=config.symbols)
        chosen = [i for i, r in enumerate(data.records)
                  if (not voices or r["voice"] in voices) and (not languages or r["language"] in languages)
                  and r["duration_s"] <= args.max_seconds]
        if not chosen:
            raise InputError(data.root / "manifest.jsonl", f"no utterances of voices {args.voices!r} in "
                                                          f"languages {args.languages!r} under {args.max_seconds} s")
        chosen = [i for i in chosen if is_held_out(data.records[i]["id"], args.val_items, len(chosen)) == held_out]
        if not held_out and args.train_items:
            chosen = chosen[:args.train_items]
        data.keep(chosen)
        halves.append(data)
    return halves[0], halves[1]


def main(argv: list[str] | None = None) -> int:
    args = parse(Args, argv, "mouthpiece-train tacotron", __doc__.splitlines()[0])
    if missing := not_corpora(args.data):
        print(f"mouthpiece-train tacotron: {missing[0]}: not a corpus (no manifest.jsonl)", file=sys.stderr)
        return 2
    from .dataset import collate
    from .registry import get_family
    from .trainer import Trainer

    try:
        config = model_config(args)
        train, val = datasets(args, config)
        about = {"command": ["mouthpiece-train", "tacotron", *(sys.argv[1:] if argv is None else argv)],
                 "data": args.data, "voices": args.voices, "languages": args.languages,
                 "train_utterances": len(train), "val_utterances": len(val),
                 "val_ids": [r["id"] for r in val.records]}
        trainer = Trainer(get_family("tacotron"), config, train_config(args), train, val, args.out,
                          collate=collate, about=about)
        metrics = trainer.fit()
    except (InputError, ToolError, ValueError) as err:
        print(f"mouthpiece-train tacotron: {err}", file=sys.stderr)
        return 2
    print(f"done: step {trainer.step}, best validation loss {trainer.best_val:.5f}, "
          f"model in {Path(args.out, 'model.json')}; last metrics {metrics}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
