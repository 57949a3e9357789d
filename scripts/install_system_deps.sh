#!/usr/bin/env bash
# System packages the dataset builder and the Space's tests need (Debian/Ubuntu, run as root). Idempotent.
#   mma                 - chord chart -> accompaniment MIDI (synth songs)
#   fluidsynth          - MIDI -> audio
#   fluid-soundfont-gm, timgm6mb-soundfont - two GM soundfonts, for timbre variety
#   libsndfile1         - wav/flac/ogg/mp3 reading through soundfile
#   ffmpeg              - fallback decoder for formats libsndfile cannot read
#   chromium            - headless browser for the Space's browser test (driven by Playwright's Python package
#                         through /usr/bin/chromium: `playwright install` would download a browser)
# Set WITH_WESNOTH_MUSIC=1 to also install real recorded music (wesnoth-1.16-music) for the real-audio check.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
    echo "install_system_deps.sh must run as root (apt-get)." >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
packages=(mma fluidsynth fluid-soundfont-gm timgm6mb-soundfont libsndfile1 ffmpeg chromium)
if [ "${WITH_WESNOTH_MUSIC:-0}" = "1" ]; then
    packages+=(wesnoth-1.16-music)
fi
apt-get update
apt-get install -y --no-install-recommends "${packages[@]}"
# MMA finds grooves through a database that is only built by `mma -G`; without it every `Groove` lookup fails.
mma -G >/dev/null
echo "System dependencies installed: ${packages[*]}"
