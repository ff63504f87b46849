#!/usr/bin/env bash
# Makes DEST (default farm-av-more): farm-av-drawn (make_drawings.sh) plus more training
# pictures per class from Debian's gcompris-qt-data (the lang activity's word pictures, the memory
# activity's drawings for five classes, the erase activity's kitten, horse and calf photos, the
# colors activity's yellow duck) and a cut-out of each training photo (make_cutouts.py, OpenCV
# GrabCut). Each picture is paired with a copy of its class's GCompris recording. 45 training
# clips instead of 9; the Tux Paint clips stay the held-out split. Not committed: an experiment
# towards the zoo's visual gap (results in models/README.md). GCompris's data is GPL-3.0, its
# drawings CC-BY-SA 4.0 (see the package's copyright file).
# Needs apt-get, dpkg, python3 (PYTHON=path: one with opencv-python-headless + numpy),
# rsvg-convert, ImageMagick.
#
#   bash assets/data/make_more.sh && DATA=assets/data/farm-av-more DEST=/tmp/zoo bash assets/models/train_zoo.sh
set -euo pipefail
cd "$(dirname "$0")"
dest=${1:-farm-av-more}
bash make_drawings.sh "$dest"
"${PYTHON:-python3}" make_cutouts.py "$dest"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download gcompris-qt-data >/dev/null && dpkg -x gcompris-qt-data_*.deb root)
rcc="$work/root/usr/share/gcompris-qt/rcc"
for r in lang memory erase colors; do python3 rcc_extract.py "$work/out" "$rcc/$r.rcc"; done
res() { echo "$work/out/$1.rcc/gcompris/src/activities/$1/resource"; }
add() { # class, name, picture
  local sound=$1
  [ "$1" = chicken ] && sound=chickens
  case $3 in
    *.svg) rsvg-convert -w 448 -h 448 --keep-aspect-ratio -b white "$3" -o "$dest/$1/gcompris-$1-$2.png" ;;
    *) convert "$3" -background white -alpha remove -alpha off "$dest/$1/gcompris-$1-$2.png" ;;
  esac
  cp "farm-av/$1/gcompris-$sound.ogg" "$dest/$1/gcompris-$1-$2.ogg"
}
for a in cat chicken cow dog duck horse owl pig sheep; do add $a word "$(res lang)/words_sample/$a.webp"; done
for m in 01_cat 02_pig 06_cow 07_sheep 10_chicken; do add "${m#*_}" memory "$(res memory)/$m.svg"; done
add cat photo2 "$(res erase)/kitten.webp"
add horse photo2 "$(res erase)/horse.webp"
add cow photo2 "$(res erase)/calf.webp"
add duck colours "$(res colors)/yellow_duck.svg"
