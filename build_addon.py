"""Build the Blender add-on zip: dist/mouthpiece-<version>.zip.

    python build_addon.py [--all-platforms | --platform linux-x64 ...] [--out dist]

One folder `mouthpiece/` holds the manifest (Blender 4.2+ extension) and `bl_info` (legacy add-on,
Blender 3.4-4.1), the add-on code, the backend as a subpackage, the default head and rule tables, and
the wheels Blender installs for the chosen platforms (Python 3.11), plus the Python 3.10 wheels a legacy
install in Blender 3.4-4.0 unpacks itself. Wheels are fetched once into .whl/<platform>[-py3.10]/ with
`pip download`; the add-on itself never downloads anything.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from backend import __version__
from backend.fileio import atomic_path

ROOT = Path(__file__).resolve().parent
PACKAGE = "mouthpiece"
PYTHON_VERSION = "3.11"
# The in-Blender runtime of the phoneme path and the default model; numpy is Blender's own.
WHEELS = ("pocketsphinx==5.1.1", "espeakng-loader==0.2.4", "soundfile==0.13.1",
          "soxr==0.5.0.post1", "cffi==2.1.1", "pycparser==3.12", "safetensors==0.5.3", "tqdm==4.67.1")
# Blender 3.4-4.0 embed Python 3.10: the wheels above that are built for one Python version, for that
# one too (pocketsphinx 5.0.4 is the last with Python 3.10 wheels). The add-on unpacks these itself
# (legacy installs); the manifest does not list them.
LEGACY_PYTHON_VERSION = "3.10"
LEGACY_WHEELS = ("pocketsphinx==5.0.4", "soxr==0.5.0.post1", "cffi==2.1.1")
PIP_PLATFORMS = {
    "linux-x64": ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"),
    "macos-arm64": ("macosx_11_0_arm64", "macosx_12_0_arm64", "macosx_13_0_arm64", "macosx_14_0_arm64"),
    "macos-x64": ("macosx_10_9_x86_64", "macosx_10_12_x86_64", "macosx_10_13_x86_64", "macosx_10_14_x86_64",
                  "macosx_10_15_x86_64", "macosx_11_0_x86_64"),
    "windows-x64": ("win_amd64",),
}
ASSET_GLOBS = ("head.blend", "head_landmarks.npz", "models/*/model.safetensors", "models/*/model.json")
SKIP_PARTS = {"__pycache__", ".pytest_cache"}
COMMAND_LINE_ONLY_MODELS = {"lipsync_gen"}  # needs torch and MediaPipe: `mouthpiece lipsync`, not Blender


@dataclass(frozen=True)
class BuildArgs:
    platforms: tuple[str, ...]  # Blender platform names whose wheels are packed
    out: Path  # folder the zip goes into
    cache: Path  # folder the wheels are downloaded into, one subfolder per platform


def parse_args(argv: list[str]) -> BuildArgs:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all-platforms", action="store_true", help="pack wheels for every platform")
    parser.add_argument("--platform", action="append", choices=tuple(PIP_PLATFORMS),
                        help="pack wheels for this platform (repeatable; default linux-x64)")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--cache", type=Path, default=ROOT / ".whl")
    args = parser.parse_args(argv)
    platforms = tuple(PIP_PLATFORMS) if args.all_platforms else tuple(args.platform or ("linux-x64",))
    return BuildArgs(platforms, args.out, args.cache)


def fetch_wheels(platform: str, cache: Path, requirements: tuple[str, ...] = WHEELS,
                 python: str = PYTHON_VERSION) -> list[Path]:
    """The platform's wheels of `requirements` for `python` from the cache, downloading what is missing."""
    folder = cache / (platform if python == PYTHON_VERSION else f"{platform}-py{python}")
    wheels = [wheel_for(folder, requirement) for requirement in requirements]
    if all(wheels):
        return wheels
    folder.mkdir(parents=True, exist_ok=True)
    tags = [arg for tag in PIP_PLATFORMS[platform] for arg in ("--platform", tag)]
    command = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-deps",
               "--python-version", python, *tags, "-d", str(folder), *requirements]
    subprocess.run(command, check=True)
    wheels = [wheel_for(folder, requirement) for requirement in requirements]
    missing = [r for r, w in zip(requirements, wheels) if w is None]
    if missing:
        raise SystemExit(f"build_addon: no wheel for {', '.join(missing)} in {folder}")
    return wheels


def wheel_for(folder: Path, requirement: str) -> Path | None:
    name, version = requirement.split("==")
    stem = re.sub(r"[-_.]+", "_", name).lower()
    found = sorted(p for p in folder.glob("*.whl")
                   if re.sub(r"[-_.]+", "_", p.name.split("-")[0]).lower() == stem and p.name.split("-")[1] == version)
    return found[-1] if found else None


def manifest_text(wheels: list[str], platforms: tuple[str, ...]) -> str:
    """The add-on's manifest with the packed wheels and platforms written in before the first table."""
    text = (ROOT / "blender_addon" / "blender_manifest.toml").read_text("utf-8")
    declared = re.search(r'^version = "([^"]+)"', text, re.M).group(1)
    if declared != __version__:
        raise SystemExit(f"build_addon: manifest version {declared} differs from backend {__version__}")
    lines = [f'platforms = [{", ".join(repr_toml(p) for p in platforms)}]']
    if wheels:
        lines.append("wheels = [\n" + "".join(f"  {repr_toml(w)},\n" for w in wheels) + "]")
    table = text.index("\n[")
    return text[:table] + "\n" + "\n".join(lines) + "\n" + text[table:]


def repr_toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def source_files() -> list[tuple[Path, str]]:
    """(file on disk, path inside the package) for the code, the backend and the assets."""
    pairs = [(p, p.name) for p in sorted((ROOT / "blender_addon").glob("*.py"))]
    for path in sorted((ROOT / "backend").rglob("*")):
        relative = path.relative_to(ROOT)
        if path.is_file() and not SKIP_PARTS & set(relative.parts) and path.suffix != ".pyc":
            pairs.append((path, relative.as_posix()))
    for pattern in ASSET_GLOBS:
        pairs += [(p, p.relative_to(ROOT).as_posix()) for p in sorted((ROOT / "assets").glob(pattern))
                  if not COMMAND_LINE_ONLY_MODELS & set(p.parts)]
    return pairs


def build(args: BuildArgs) -> Path:
    wheels = [w for platform in args.platforms for w in fetch_wheels(platform, args.cache)]
    legacy = [w for platform in args.platforms
              for w in fetch_wheels(platform, args.cache, LEGACY_WHEELS, LEGACY_PYTHON_VERSION)]
    unique = {w.name: w for w in wheels}
    target = args.out / f"{PACKAGE}-{__version__}.zip"
    with atomic_path(target) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        manifest = manifest_text([f"./wheels/{name}" for name in sorted(unique)], args.platforms)
        archive.writestr(f"{PACKAGE}/blender_manifest.toml", manifest)
        for path, name in source_files():
            archive.write(path, f"{PACKAGE}/{name}")
        for name, path in sorted({**unique, **{w.name: w for w in legacy}}.items()):
            archive.write(path, f"{PACKAGE}/wheels/{name}", compress_type=zipfile.ZIP_STORED)
    return target


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    target = build(args)
    print(f"{target} ({target.stat().st_size / 1e6:.1f} MB, platforms: {', '.join(args.platforms)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
