#!/bin/bash
# Makes the seed corpus (fuzz/seeds/TARGET/) from McGurk's committed media, models and files:
# short cuts of every container and codec the loader reads, small model files, specs, a session
# and a manifest. Needs ffmpeg (with libx264, libvorbis, libmp3lame) and python3. The seeds are committed; rerun this only
# to change them. Each seed is small so that libFuzzer's mutations stay fast.
set -euo pipefail
cd "$(dirname "$0")/.."
out=fuzz/seeds
rm -rf "$out"
mkdir -p "$out"/{probe,open,h264,still,safetensors,pth,model,spec,session,manifest}
ff() { ffmpeg -v error -y "$@"; }

# Audio: each codec, a fraction of a second of a committed clip.
src=assets/demo/dog.ogg
ff -i "$src" -t 0.15 -ar 11025 -ac 1 -c:a pcm_s16le "$out/open/s16_11025.wav"
ff -i "$src" -t 0.1 -ar 44100 -ac 2 -c:a pcm_f32le "$out/open/f32_44100_stereo.wav"
ff -i "$src" -t 0.1 -ar 8000 -ac 1 -c:a pcm_u8 "$out/open/u8_8000.wav"
ff -i "$src" -t 0.1 -ar 22050 -ac 1 -c:a pcm_s24le "$out/open/s24_22050.wav"
ff -i "$src" -t 0.2 -ar 48000 -ac 1 -c:a flac "$out/open/tone.flac"
ff -i "$src" -t 0.3 -ar 22050 -ac 1 -c:a libvorbis "$out/open/clip.ogg"
ff -i "$src" -t 0.3 -ar 22050 -ac 1 -c:a libmp3lame -b:a 32k "$out/open/clip.mp3"
ff -i "$src" -t 0.3 -ar 22050 -ac 1 -c:a aac -b:a 24k "$out/open/clip.m4a"
# Video: a few small H.264 frames of a committed picture, with and without sound.
img=assets/demo/dog.png
ff -loop 1 -i "$img" -i "$src" -t 0.25 -r 8 -vf scale=32:32,format=yuv420p -c:v libx264 -preset ultrafast -g 2 \
    -ar 11025 -ac 1 -c:a aac -b:a 16k -shortest "$out/open/av.mp4"
ff -loop 1 -i "$img" -t 0.25 -r 8 -vf scale=32:32,format=yuv420p -c:v libx264 -preset ultrafast -g 2 "$out/open/video_only.mp4"
ff -loop 1 -i "$img" -t 0.25 -r 8 -vf scale=32:32,format=yuv420p -c:v libx264 -preset ultrafast -g 2 \
    -movflags +faststart "$out/open/faststart.mp4"
# Stills.
ff -i "$img" -vf scale=16:16 "$out/still/small.png"
ff -i "$img" -vf scale=16:16 -q:v 5 "$out/still/small.jpg"
ff -i "$img" -vf scale=16:16 "$out/still/small.webp"
cp "$out"/still/* "$out/open/"
cp "$out"/open/* "$out/probe/"
cp tests/fixtures/hevc.mp4 tests/fixtures/video_only.mp4 "$out/probe/"

# H.264: the avcC record of the small video and its first sample, in the target's layout
# (first byte: the record's length).
python3 - "$out/open/video_only.mp4" "$out/h264/first_sample" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
def boxes(buf, start, end):
    while start + 8 <= end:
        size, kind = struct.unpack('>I4s', buf[start:start + 8])
        if size < 8: return
        yield kind, start + 8, start + size
        start += size
def find(buf, start, end, path):
    for kind, s, e in boxes(buf, start, end):
        if kind == path[0]:
            if len(path) == 1: return s, e
            if kind == b'stsd': s += 8
            if kind == b'avc1': s += 78
            r = find(buf, s, e, path[1:])
            if r: return r
avcc = find(data, 0, len(data), [b'moov', b'trak', b'mdia', b'minf', b'stbl', b'stsd', b'avc1', b'avcC'])
mdat = find(data, 0, len(data), [b'mdat'])
record = data[avcc[0]:avcc[1]]
assert len(record) < 256
sample = data[mdat[0]:mdat[0] + 600]
open(sys.argv[2], 'wb').write(bytes([len(record)]) + record + sample)
PY

# Model files and checkpoints.
cp tests/fixtures/torch/layouts.expected.safetensors tests/fixtures/torch/tiny_audio.safetensors "$out/safetensors/"
cp tests/fixtures/torch/layouts.pth tests/fixtures/torch/tian_classifier_best.pth tests/fixtures/torch/out_of_bounds.pth \
    tests/fixtures/torch/legacy.pth tests/fixtures/torch/compressed.pth tests/fixtures/torch/tian_sound_best.pth "$out/pth/"
cp tests/fixtures/torch/tiny_audio.safetensors "$out/model/"
cp tests/fixtures/torch/*.spec.json "$out/spec/"

# A session and a manifest as McGurk writes them.
cat > "$out/session/format1.mcgurk.json" <<'JSON'
{"format_version": 1, "clip": "cow.mp4", "time_s": 2.5, "method": "PGD", "norm": "l2", "modality": "a",
 "eps_a": 0.02, "eps_v": 0.1, "steps": 7, "notes": "from an old build"}
JSON
printf 'path,label,split\ncow/a.ogg,cow,train\ndog/b.ogg;dog/b.png,dog,test\n# comment\n\n' > "$out/manifest/header.csv"
printf '\xef\xbb\xbfa.wav,cat\n/dev/zero,dog,val\n' > "$out/manifest/bom.csv"
du -sh "$out"
