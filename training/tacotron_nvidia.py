"""`mouthpiece-train tacotron-nvidia --checkpoint tacotron2_statedict.pt --out RUN`: NVIDIA's Tacotron 2 as stage 1.

Converts NVIDIA's LJSpeech Tacotron 2 weights (github.com/NVIDIA/tacotron2; the file a user already has) into
this project's Tacotron at its own size, timing and symbols: 22,050 Hz, hop 256 (86.13 decoder steps per
second), FFT 1024, 0-8000 Hz magnitude mel, the 148-symbol table. RUN/model.{safetensors,json} then starts
the landmark stage: `mouthpiece-train tacotron --stage landmarks --init-from RUN/model ...`, whose lip
labels are resampled to 86.13 fps to match. The file is read with torch's weights-only loader (tensors and
plain containers, no code) once, and written out as safetensors + JSON; nothing pickled is kept.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from backend.errors import InputError

from .args import option, parse

NVIDIA_AUDIO = {"sample_rate": 22050, "hop": 256, "n_fft": 1024, "fmin": 0.0, "fmax": 8000.0, "mel_power": 1.0}


@dataclass
class Args:
    checkpoint: str = option(help="NVIDIA Tacotron 2 checkpoint (.pt, a state dict or {'state_dict': ...})")
    out: str = option(help="run folder to write model.safetensors + model.json into")
    overwrite: bool = option(False, "replace an existing RUN/model.*")


def _conv_bn(ours: str, theirs: str) -> dict[str, str]:
    names = {f"{ours[0]}.weight": f"{theirs}.0.conv.weight", f"{ours[0]}.bias": f"{theirs}.0.conv.bias"}
    for key in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
        names[f"{ours[1]}.{key}"] = f"{theirs}.1.{key}"
    return names


def _lstm_cell(ours: str, theirs: str) -> dict[str, str]:
    return {f"{ours}.{key}": f"{theirs}.{key}" for key in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}


def name_map(n_encoder_convs: int = 3, n_postnet_convs: int = 5) -> dict[str, str]:
    """Our state-dict name -> NVIDIA's, for every tensor NVIDIA has (our pre-net biases it lacks are zero)."""
    names = {"embedding.weight": "embedding.weight"}
    for i in range(n_encoder_convs):
        names |= _conv_bn((f"encoder.convs.{4 * i}", f"encoder.convs.{4 * i + 1}"), f"encoder.convolutions.{i}")
    for suffix in ("", "_reverse"):
        for key in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            names[f"encoder.lstm.{key}{suffix}"] = f"encoder.lstm.{key}{suffix}"
    for i in range(2):
        names[f"mel_decoder.prenet.layers.{i}.weight"] = f"decoder.prenet.layers.{i}.linear_layer.weight"
    names |= _lstm_cell("mel_decoder.attention_rnn", "decoder.attention_rnn")
    names |= _lstm_cell("mel_decoder.decoder_rnn", "decoder.decoder_rnn")
    attention = "decoder.attention_layer"
    names |= {"mel_decoder.attention.query.weight": f"{attention}.query_layer.linear_layer.weight",
              "mel_decoder.attention.memory.weight": f"{attention}.memory_layer.linear_layer.weight",
              "mel_decoder.attention.energy.weight": f"{attention}.v.linear_layer.weight",
              "mel_decoder.attention.location_conv.weight": f"{attention}.location_layer.location_conv.conv.weight",
              "mel_decoder.attention.location.weight": f"{attention}.location_layer.location_dense.linear_layer.weight",
              "mel_decoder.projection.weight": "decoder.linear_projection.linear_layer.weight",
              "mel_decoder.projection.bias": "decoder.linear_projection.linear_layer.bias",
              "gate.weight": "decoder.gate_layer.linear_layer.weight",
              "gate.bias": "decoder.gate_layer.linear_layer.bias"}
    # Our post-net's sequence is conv, BN, tanh, dropout per layer (the last without tanh).
    position = 0
    for i in range(n_postnet_convs):
        names |= _conv_bn((f"mel_postnet.convs.{position}", f"mel_postnet.convs.{position + 1}"),
                          f"postnet.convolutions.{i}")
        position += 4 if i < n_postnet_convs - 1 else 3
    return names


def config_for(state: dict, path: Path):
    """Our TacotronConfig at the sizes NVIDIA's tensors have."""
    from backend.text.nvidia_symbols import NVIDIA_SYMBOLS

    from .families.tacotron import TacotronConfig

    def shape(name: str) -> tuple[int, ...]:
        if name not in state:
            raise InputError(path, f"not a Tacotron 2 state dict: no {name!r}")
        return tuple(state[name].shape)

    symbols, embedding = shape("embedding.weight")
    if symbols != len(NVIDIA_SYMBOLS):
        raise InputError(path, f"{symbols} symbols, but NVIDIA's table has {len(NVIDIA_SYMBOLS)}")
    attention = "decoder.attention_layer"
    prenet = tuple(shape(f"decoder.prenet.layers.{i}.linear_layer.weight")[0] for i in range(2))
    filters, _, kernel = shape(f"{attention}.location_layer.location_conv.conv.weight")
    n_mels = shape("decoder.linear_projection.linear_layer.weight")[0]
    return TacotronConfig(symbols="nvidia", n_symbols=symbols, embedding=embedding,
                          encoder_lstm=shape("encoder.lstm.weight_hh_l0")[1],
                          attention_rnn=shape("decoder.attention_rnn.weight_hh")[1],
                          decoder_rnn=shape("decoder.decoder_rnn.weight_hh")[1],
                          landmark_rnn=shape("decoder.decoder_rnn.weight_hh")[1],
                          attention_dim=shape(f"{attention}.query_layer.linear_layer.weight")[0],
                          location_filters=filters, location_kernel=kernel, prenet=prenet,
                          postnet_channels=shape("postnet.convolutions.0.0.conv.weight")[0], n_mels=n_mels,
                          frames_per_step=1, guided_attention=0.0, **NVIDIA_AUDIO)


def read_state_dict(path: Path) -> dict:
    import torch

    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same user error
        raise InputError(path, f"cannot read as a weights-only PyTorch checkpoint ({str(err).splitlines()[0]})") from None
    state = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict):
        raise InputError(path, "holds no state dict")
    return {k.removeprefix("module."): v for k, v in state.items()}


def convert(path: Path):
    """(our Tacotron with NVIDIA's weights in its TTS parts, its config)."""
    import torch

    from .families.tacotron import Tacotron

    state = read_state_dict(path)
    config = config_for(state, path)
    model = Tacotron(config)
    ours = model.state_dict()
    for our_name, their_name in name_map().items():
        if their_name not in state:
            raise InputError(path, f"not a Tacotron 2 state dict: no {their_name!r}")
        if tuple(state[their_name].shape) != tuple(ours[our_name].shape):
            raise InputError(path, f"{their_name} has shape {tuple(state[their_name].shape)}, expected "
                                   f"{tuple(ours[our_name].shape)}")
        ours[our_name] = state[their_name].to(ours[our_name].dtype)
    for i in range(len(config.prenet)):
        ours[f"mel_decoder.prenet.layers.{i}.bias"] = torch.zeros_like(ours[f"mel_decoder.prenet.layers.{i}.bias"])
    model.load_state_dict(ours)
    return model, config


def main(argv: list[str] | None = None) -> int:
    import dataclasses

    from backend import checkpoints
    from backend.checkpoints import Checkpoint

    args = parse(Args, argv, "mouthpiece-train tacotron-nvidia", __doc__.splitlines()[0])
    path, stem = Path(args.checkpoint), Path(args.out) / "model"
    try:
        if not path.is_file():
            raise InputError(path, "no such file")
        if stem.with_suffix(".json").exists() and not args.overwrite:
            raise InputError(stem.with_suffix(".json"), "exists; pass --overwrite to replace it")
        model, config = convert(path)
    except InputError as err:
        print(f"mouthpiece-train tacotron-nvidia: {err}", file=sys.stderr)
        return 2
    tensors = {name: value.detach().cpu().numpy() for name, value in model.state_dict().items()}
    record = {"family": "tacotron", "model": dataclasses.asdict(config), "train": {},
              "about": {"command": ["mouthpiece-train", "tacotron-nvidia", *(sys.argv[1:] if argv is None else argv)],
                        "source": str(path)}}
    checkpoints.save(stem, Checkpoint(tensors, "tacotron", record, 0, {}))
    print(f"wrote {stem}.safetensors: NVIDIA Tacotron 2 at {config.fps:.2f} steps/s; train the lips with "
          f"`mouthpiece-train tacotron --stage landmarks --init-from {stem} ...`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
