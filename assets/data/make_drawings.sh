#!/usr/bin/env bash
# Makes DEST (default farm-av-drawn): a copy of farm-av plus one more training clip per class,
# the GCompris drawing of the animal paired with a copy of its GCompris recording
# (<class>/gcompris-<class>-drawing.png/.ogg). The drawings come from Debian's gcompris-qt-data
# package: its explore_farm_animals activity ships an SVG of each animal (Timothee Giet, 2020,
# CC-BY-SA 4.0, credited in farm-av/GCOMPRIS-README.txt) beside the photo and recording
# already used; each is rasterised to 448x448 on white with rsvg-convert (librsvg2-bin).
# An experiment towards the zoo's visual domain gap (see models/README.md); the shipped zoo is
# trained on farm-av. Needs apt-get (a package download), dpkg, python3 and rsvg-convert.
#
#   bash assets/data/make_drawings.sh && DATA=assets/data/farm-av-drawn DEST=/tmp/zoo bash assets/models/train_zoo.sh
set -euo pipefail
cd "$(dirname "$0")"
dest=${1:-farm-av-drawn}
rm -rf "$dest"
cp -r farm-av "$dest"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download gcompris-qt-data >/dev/null && dpkg -x gcompris-qt-data_*.deb root)
python3 rcc_extract.py "$work/out" "$work/root/usr/share/gcompris-qt/rcc/explore_farm_animals.rcc"
svg="$work/out/explore_farm_animals.rcc/gcompris/src/activities/explore_farm_animals/resource/animals"
for a in cat chicken cow dog duck horse owl pig sheep; do
  sound=$a
  [ "$a" = chicken ] && sound=chickens
  rsvg-convert -w 448 -h 448 --keep-aspect-ratio -b white "$svg/$a.svg" -o "$dest/$a/gcompris-$a-drawing.png"
  cp "farm-av/$a/gcompris-$sound.ogg" "$dest/$a/gcompris-$a-drawing.ogg"
done
