#!/usr/bin/env bash
# System packages: sound sources (soundfont, drum kits, speech) and decoders.
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  fluid-soundfont-gm fluidsynth libfluidsynth3 hydrogen-drumkits espeak-ng ffmpeg sox libsndfile1 libopenmpt0 \
  klettres-data ktuberling-data hedgewars-data >/dev/null
# Tracker modules (iram data modules: annotations/modules/modules.csv lists every file used).
$SUDO apt-get install -y -qq --no-install-recommends \
  bomberclone-data ceferino-data circuslinux-data criticalmass-data dodgindiamond2 fb-music-high freedroid-data \
  gemdropx gltron gweled heroes-sound-tracks njam-data open-invaders-data pachi-data penguin-command pingus-data \
  rafkill-data ri-li-data rockdodger solarwolf tecnoballz-data tomatoes-data tuxmath-data vodovod >/dev/null
# CC0 Sonic Pi samples (npm), where iram.data.sources looks for them.
if ! ls "$HOME/.cache/iram/sonic-pi/node_modules/supersonic-scsynth-samples/samples/"*.flac >/dev/null 2>&1; then
  mkdir -p "$HOME/.cache/iram/sonic-pi"
  npm install --silent --no-audit --no-fund --prefix "$HOME/.cache/iram/sonic-pi" supersonic-scsynth-samples@0.84.2
fi
