#!/usr/bin/env bash
# Mouthpiece quick start. Run as root on Debian with Python 3.11:
#   ./mouthpiece.sh demo   set everything up, animate the bundled sample line (JSON + speech WAV + MP4)
#   ./mouthpiece.sh test   set everything up, run the test suite
#   ./mouthpiece.sh setup  set everything up only
# Every step checks first and skips what is already done.
set -euo pipefail
cd "$(dirname "$0")"

# g++ and python3-dev build pyworld (the WORLD vocoder ships no Python 3.11 wheels).
APT_PACKAGES=(python3-venv python3-numpy python3-dev g++ espeak-ng ffmpeg sox libsndfile1 blender xvfb xauth
              festival flite festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts)
VENV=.venv
PYTHON=${PYTHON:-python3.11}

log() { printf '[mouthpiece] %s\n' "$*" >&2; }

setup_apt() {
    local missing=()
    for pkg in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return
    log "apt: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
}

# install_venv DIR STAMP_INPUT PIP_ARGS...: (re)install when the inputs changed since the last success.
install_venv() {
    local dir=$1 stamp_input=$2; shift 2
    command -v "$PYTHON" >/dev/null || PYTHON=python3
    [ -x "$dir/bin/python" ] || { log "creating $dir"; "$PYTHON" -m venv "$dir"; }
    local want; want=$(printf '%s %s' "$stamp_input" "$*" | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$dir/.mouthpiece-stamp" 2>/dev/null)" != "$want" ]; then
        log "pip: installing into $dir"
        "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@"
        echo "$want" > "$dir/.mouthpiece-stamp"
    fi
}

setup_python() {
    install_venv "$VENV" "$(cat pyproject.toml constraints.txt)" -c constraints.txt \
        -e '.[train,blender,dev]' --config-settings editable_mode=compat
}

# Blender 5.0's API (no action.fcurves) is tested against bpy 5.0.1 in a second venv.
setup_bpy5() {
    install_venv .venv-bpy5 "" bpy==5.0.1 numpy==1.26.4 scipy==1.15.3 soundfile==0.13.1 soxr==0.5.0.post1 \
        pocketsphinx==5.1.1 espeakng-loader==0.2.4 pytest==8.3.5
}

setup() { setup_apt; setup_python; }

demo() {
    mkdir -p out
    local text; text=$(cat assets/samples/line01.txt)
    log "animating: $text"
    "$VENV/bin/mouthpiece" animate --text "$text" --out out/line01.json --speech-out out/line01.wav --overwrite
    if [ -f blender_addon/render.py ]; then
        "$VENV/bin/mouthpiece" render --text "$text" --out-blend out/line01.blend --out-video out/line01.mp4 --overwrite
    fi
    log "done: $(ls out/line01.* | tr '\n' ' ')"
}

run_tests() {
    setup_bpy5
    "$VENV/bin/python" -m pytest -q "$@"
}

case "${1:-}" in
    setup) setup ;;
    demo) setup; demo ;;
    test) shift; setup; run_tests "$@" ;;
    *) echo "usage: $0 demo | test [pytest args] | setup" >&2; exit 2 ;;
esac
