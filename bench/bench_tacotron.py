"""Text-to-animation speed of Tacotron lips (target: a 10-second line in 10 s or less, Griffin-Lim included).

    .venv/bin/python bench/bench_tacotron.py [--checkpoint assets/models/tacotron/model] [--repeats 3]

Prints the seconds to turn a line of text into landmark animation plus speech: the numpy runtime (text
front end, encoder, both decoders), Griffin-Lim (60 iterations) and the Animation, split into the two.
The decoders run to --seconds of speech (800 frames at 80 fps by default) unless the gate ends them
first, so an untrained checkpoint takes as long as a trained one on a 10-second line.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LINE = ("The quick brown fox jumped over the lazy dog while thirty two ships sailed past the harbour lights "
        "at dawn, and nobody on the quay said a single word about it.")  # about ten seconds spoken


def main() -> int:
    from backend.errors import InputError
    from backend.models.tacotron import load
    from backend.runtime import griffin_lim

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="", help="checkpoint path without suffix (default: the shipped one)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0, help="speech to generate at most")
    parser.add_argument("--text", default=LINE)
    args = parser.parse_args()
    if args.checkpoint:
        os.environ["MOUTHPIECE_TACOTRON"] = args.checkpoint
    model = load()
    try:
        runtime = model.runtime()
    except InputError as err:
        print(f"bench_tacotron: {err}", file=sys.stderr)
        return 1
    spec = runtime.spec
    max_steps = math.ceil(args.seconds * spec.fps / spec.frames_per_step)
    quiet = lambda fraction, message: None  # noqa: E731
    totals, decoders, vocoder = [], [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        anim, audio = model.speak(args.text, "en", quiet, max_steps)
        totals.append(time.perf_counter() - start)
        start = time.perf_counter()
        result = model.generate(args.text, "en", quiet, max_steps)
        decoders.append(time.perf_counter() - start)
        start = time.perf_counter()
        griffin_lim.mel_to_audio(result["mel"], spec.mel)
        vocoder.append(time.perf_counter() - start)
    best, decoding, gl = min(totals), min(decoders), min(vocoder)
    per_ten_seconds = best * 10.0 / max(anim.duration_s, 1e-9)
    print(f"checkpoint {model.shipped.find()} (step {runtime.record.get('step')}, r = {spec.frames_per_step}, "
          f"decoder LSTMs {spec.decoder_rnn}/{spec.landmark_rnn})")
    print(f"{len(args.text)} characters -> {anim.n_frames} frames at {spec.fps:g} fps ({anim.duration_s:.2f} s, gate "
          f"{'stopped' if anim.meta['gate_stopped'] else 'never fired'}) and {len(audio) / spec.mel.sample_rate:.2f} s "
          f"of speech: {best:.2f} s in all (measured apart: model {decoding:.2f} s, Griffin-Lim {gl:.2f} s); "
          f"{per_ten_seconds:.2f} s per 10 s of speech, target 10 s: {'met' if per_ten_seconds <= 10.0 else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
