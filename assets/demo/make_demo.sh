#!/usr/bin/env bash
# Rebuild the committed demo assets from the project's farm-animal data.
# Needs ffmpeg built with libx264 (Debian's `ffmpeg` package). The outputs are committed:
# nobody needs to run this to use McGurk.
#   FARM_AV=/path/to/farm-av assets/demo/make_demo.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${FARM_AV:-$here/../../../shared/data/farm-av}

# cow.mp4: the GCompris cow photo (public domain) with the GCompris cow recording (GPL-3),
# 8 fps like the papers' frame extraction, a slow zoom so that frames differ, 6.5 s so that
# a full 65535-sample analysis window (5.94 s at 11025 Hz) fits. H.264 High + AAC-LC 44.1 kHz.
ffmpeg -y -v error -loop 1 -framerate 8 -i "$src/cow/gcompris-cow.webp" -i "$src/cow/gcompris-cow.ogg" \
  -filter_complex "[0:v]scale=448:336:flags=bicubic,zoompan=z='1+0.003*on':d=1:x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':s=448x336:fps=8,format=yuv420p[v];[1:a]apad=whole_dur=6.5[a]" \
  -map "[v]" -map "[a]" -t 6.5 \
  -c:v libx264 -profile:v high -preset slow -crf 28 -g 16 -bf 2 \
  -c:a aac -b:a 64k -ar 44100 -ac 1 -movflags +faststart -map_metadata -1 "$here/cow.mp4"

# An audio file plus an image, the papers' way of making a clip (Tux Paint stamps, GPL-2).
cp "$src/dog/tuxpaint-dog.ogg" "$here/dog.ogg"
cp "$src/dog/tuxpaint-dog.png" "$here/dog.png"
ls -l "$here"
