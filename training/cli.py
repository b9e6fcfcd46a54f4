"""`mouthpiece-train SUBCOMMAND ...`: each subcommand lives in its own module with a `main(argv)`."""
from __future__ import annotations

import importlib
import sys

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "corpus": ("training.corpus.cli", "build the synthetic audiovisual corpus (or `corpus report`)"),
    "import-dataset": ("training.datasets.cli", "convert a real dataset on disk to a corpus manifest"),
    "import-speech": ("training.speech.cli", "label real speech recordings into a corpus folder"),
    "cnn-gru": ("training.train_cnn_gru", "train the CNN+GRU family (gru | lstm | static)"),
    "qlearn": ("training.train_qlearn", "train the Q-learning lip agent (DQN on raw audio)"),
    "tacotron": ("training.train_tacotron", "train Tacotron lips: text -> speech + lip landmarks (two stages)"),
    "nerf-landmarks": ("training.train_nerf_landmarks", "train the NeRF landmark side: speech -> landmarks + blinks"),
    "nerf-frames": ("training.nerf.from_corpus", "render a head talking (corpus utterances) as the renderer's frames"),
    "nerf": ("training.train_nerf", "train the NeRF renderer: a talking portrait from frames + conditions"),
    "faces": ("training.faces_set", "render lower-face crops of corpus utterances for the lip-sync expert"),
    "sync-expert": ("training.train_sync_expert", "train the lip-sync expert: 5 lower-face frames vs an 80x16 mel"),
    "lipsync-gen": ("training.train_lipsync_gen", "train the lip-sync generator (Wav2Lip-style), stage 1 or 2"),
    "face-features": ("training.train_face_features", "train the face features of the perceptual distance"),
    "tacotron-nvidia": ("training.tacotron_nvidia", "convert NVIDIA's Tacotron 2 weights into a stage-1 tacotron run"),
    "eval-qlearn": ("training.eval_qlearn", "evaluate Q-learning agents against lazy, random and greedy agents"),
    "eval-nerf-landmarks": ("training.eval_nerf_landmarks", "lip error and blink rate of the NeRF landmark side"),
    "eval-nerf": ("training.eval_nerf", "the NeRF renderer in the paper's table: PSNR, SSIM, LMD, sync"),
    "eval-tacotron": ("training.eval_tacotron", "evaluate Tacotron lips: Table I, free-running, WER, LibriVox sync"),
    "eval-lipsync": ("training.eval_lipsync", "the lip-sync generator in the coursework's Table 4.1 shape"),
    "eval-sync": ("training.eval_sync", "the lip-sync expert's score of every model on held-out voices and LibriVox"),
    "export": ("training.export_model", "copy a trained model for shipping (optionally as float16)"),
    "eval": ("training.evaluate", "evaluate models on held-out voices and real speech"),
}


def usage() -> str:
    lines = ["usage: mouthpiece-train SUBCOMMAND [options]", "", "subcommands:"]
    lines += [f"  {name:<16}{help_text}" for name, (_, help_text) in SUBCOMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0
    if args[0] not in SUBCOMMANDS:
        print(f"mouthpiece-train: unknown subcommand {args[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[args[0]][0])
    return int(module.main(args[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
