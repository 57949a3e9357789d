#!/usr/bin/env bash
# System packages the dataset builder and the Space's tests need (Debian/Ubuntu, run as root). Idempotent.
#   mma                 - chord chart -> accompaniment MIDI (synth songs)
#   fluidsynth          - MIDI -> audio
#   fluid-soundfont-gm, timgm6mb-soundfont - two GM soundfonts, for timbre variety
#   avldrums.lv2-soundfont - AVL multi-sampled acoustic drum kits (sf2, one bank-0 preset each; CC BY-SA 3.0)
#   sonic-pi-samples    - recorded loops and one-shots (130 of them CC0) for VAE training and augmentation
#   libsndfile1         - wav/flac/ogg/mp3 reading through soundfile
#   ffmpeg              - fallback decoder for formats libsndfile cannot read
#   chromium            - headless browser for the Space's browser test (driven by Playwright's Python package
#                         through /usr/bin/chromium: `playwright install` would download a browser)
#   musescore-general-soundfont - MuseScore General (sf3, MIT), the best free GM font: `synth --render realistic`
#                         (issue 19) draws it beside FluidR3; the `gm` render keeps its fixed two fonts
#                         (dataset_builder/synth/render.py: KNOWN_SOUNDFONTS), so earlier songs are unchanged.
# Set WITH_WESNOTH_MUSIC=1 to also install real recorded music (wesnoth-1.16-music) for the real-audio check.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
    echo "install_system_deps.sh must run as root (apt-get)." >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
packages=(mma fluidsynth fluid-soundfont-gm timgm6mb-soundfont musescore-general-soundfont
    avldrums.lv2-soundfont sonic-pi-samples libsndfile1 ffmpeg chromium)
if [ "${WITH_WESNOTH_MUSIC:-0}" = "1" ]; then
    packages+=(wesnoth-1.16-music)
fi
apt-get update
apt-get install -y --no-install-recommends "${packages[@]}"
# MMA finds grooves through a database that is only built by `mma -G`; without it every `Groove` lookup fails.
mma -G >/dev/null
echo "System dependencies installed: ${packages[*]}"
