"""`mouthpiece-train import-speech --root DIR --out DIR`: label real speech recordings (a Mouthpiece
manifest.tsv, LJ Speech, LibriSpeech, Common Voice, or a folder of audio + .txt) into a corpus folder."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

from ..args import option, parse, split_list
from .layouts import LAYOUTS


@dataclass
class Args:
    root: str = option(help="the collection's folder, in one of the layouts")
    out: str = option(help="corpus folder to write, or to resume")
    layout: str = option("auto", "how the collection is laid out", choices=("auto", *LAYOUTS))
    language: str = option("en", "espeak-ng language code of recordings whose layout does not say")
    languages: str = option("", "comma-separated language codes to import; empty imports every language")
    min_confidence: float = option(0.5, "drop recognised (untranscribed) recordings whose confidence is lower")
    max_seconds: float = option(90.0, "skip recordings longer than this")
    workers: int = option(2, "processes that label recordings")
    limit: int = option(0, "import only the first N recordings (0: all)")
    seed: int = option(0, "seed of the speaker split and the articulation styles")
    progress: bool = option(True, "show a progress bar")


def main(argv: list[str] | None = None) -> int:
    args = parse(Args, argv, "mouthpiece-train import-speech", __doc__.splitlines()[0])
    from backend.errors import MouthpieceError

    from .build import SpeechImportOptions, import_speech
    from .layouts import read_layout

    try:
        items = read_layout(args.root, args.layout, args.language)
        options = SpeechImportOptions(out=Path(args.out), seed=args.seed, workers=args.workers,
                                      min_confidence=args.min_confidence, max_seconds=args.max_seconds,
                                      languages=split_list(args.languages),
                                      limit=args.limit or None, progress=args.progress)
        summary = import_speech(items, options, str(Path(args.root).resolve()))
    except MouthpieceError as err:
        print(f"mouthpiece-train import-speech: {err}", file=sys.stderr)
        return 2
    print(json.dumps({k: summary[k] for k in ("utterances", "minutes", "skipped_this_run", "skip_reasons",
                                              "speech_s_per_wall_s")}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
