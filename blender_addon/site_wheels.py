"""The packed wheels for a legacy install (Blender 3.4-4.1, or "Install legacy add-on" in 4.2+).

Blender 4.2+ installs an extension's wheels itself. A legacy add-on gets nothing, so on first use the
wheels that fit this Python and platform are unpacked into `site-packages` inside the add-on's own folder
(a new folder, renamed into place when complete) and that folder joins sys.path. No bpy here.
"""
from __future__ import annotations

import importlib
import os
import platform
import shutil
import sys
import tempfile
import threading
import zipfile
from pathlib import Path

from .backend.errors import ToolError

PACKAGE_DIR = Path(__file__).resolve().parent
WHEELS_DIR = PACKAGE_DIR / "wheels"
SITE_DIR = PACKAGE_DIR / "site-packages"
STAMP = ".mouthpiece-wheels"  # inside SITE_DIR: the wheels it was unpacked from, one per line
CLASHING_LIBRARIES = ("libpocketsphinx.so", "libsphinxbase.so")
_LOCK = threading.Lock()


def is_extension() -> bool:
    """Installed as a Blender 4.2+ extension, whose wheels Blender installs."""
    return (__package__ or "").startswith("bl_ext.")


def python_tags() -> set[str]:
    major, minor = sys.version_info[:2]
    return {f"cp{major}{minor}", f"py{major}", f"py{major}{minor}"}


def platform_fits(tag: str) -> bool:
    machine = platform.machine().lower()
    if tag == "any":
        return True
    if sys.platform.startswith("linux"):
        return "linux" in tag and tag.endswith({"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine))
    if sys.platform == "darwin":
        return tag.startswith("macosx") and tag.endswith((machine, "universal2"))
    if sys.platform == "win32":
        return tag == {"amd64": "win_amd64", "x86_64": "win_amd64", "arm64": "win_arm64"}.get(machine)
    return False


def wheel_fits(name: str) -> bool:
    """Whether a wheel (by its file name: dist-version[-build]-python-abi-platform.whl) runs here."""
    parts = name[:-len(".whl")].split("-")
    if len(parts) < 5:
        return False
    python, abi, platforms = parts[-3].split("."), parts[-2], parts[-1].split(".")
    major, minor = sys.version_info[:2]
    stable_abi = abi == "abi3" and any(p.startswith("cp3") and int(p[3:] or 0) <= minor for p in python)
    fits_python = stable_abi or (any(p in python_tags() for p in python) and abi in ("none", f"cp{major}{minor}"))
    return fits_python and any(platform_fits(tag) for tag in platforms)


def packed_wheels() -> list[Path]:
    return sorted(WHEELS_DIR.glob("*.whl")) if WHEELS_DIR.is_dir() else []


def fitting_wheels() -> list[Path]:
    return [w for w in packed_wheels() if wheel_fits(w.name)]


def unpacked() -> bool:
    """The site folder holds exactly the wheels that fit here."""
    stamp = SITE_DIR / STAMP
    wanted = [w.name for w in fitting_wheels()]
    return stamp.is_file() and stamp.read_text("utf-8").split() == wanted


def needed() -> bool:
    """A legacy install with wheels that fit here and have not been unpacked yet."""
    return not is_extension() and bool(fitting_wheels()) and not unpacked()


def use_site() -> None:
    """Put an unpacked site folder on sys.path (after Blender's own packages)."""
    if SITE_DIR.is_dir() and str(SITE_DIR) not in sys.path:
        sys.path.append(str(SITE_DIR))
        importlib.invalidate_caches()


def ensure() -> None:
    """On a legacy install, unpack the fitting wheels once, then use them. Safe from any thread."""
    if is_extension():
        return
    with _LOCK:
        if needed():
            try:
                install(fitting_wheels())
            except OSError as err:
                raise ToolError(f"cannot unpack the add-on's packages into {SITE_DIR} ({err}); set an external "
                                "Python in the Mouthpiece add-on preferences") from None
        use_site()


def blender_links_a_clashing_library() -> bool:
    """Whether Blender itself loaded an older build of a C library a wheel carries (Debian's Blender links
    pocketsphinx 0.8, whose symbols the wheel's pocketsphinx 5 would bind to and then fail)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return False
    return any(library in maps for library in CLASHING_LIBRARIES)


def install(wheels: list[Path]) -> None:
    """Unpack `wheels` into a fresh folder beside SITE_DIR and rename it into place."""
    staging = Path(tempfile.mkdtemp(prefix=".site-", dir=PACKAGE_DIR))
    try:
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(staging)
        (staging / STAMP).write_text("".join(f"{w.name}\n" for w in wheels), "utf-8")
        if SITE_DIR.exists():
            shutil.rmtree(SITE_DIR)
        os.replace(staging, SITE_DIR)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
