#!/usr/bin/env bash
# Regenerates audioset_527.txt from the laion_clap wheel on PyPI (see README.md). Needs pip
# and numpy.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
pip download --no-deps laion_clap==1.1.7 -d "$tmp" -q
unzip -q -o "$tmp"/laion_clap-1.1.7-py3-none-any.whl 'laion_clap/training/audioset_textmap.npy' -d "$tmp"
python3 - "$tmp/laion_clap/training/audioset_textmap.npy" "$here/audioset_527.txt" <<'PY'
import sys
import numpy as np
names = np.load(sys.argv[1], allow_pickle=True)
assert len(names) == 527 and names[0] == 'Speech' and names[137] == 'Music'
open(sys.argv[2], 'w').write(''.join(f'{n}\n' for n in names))
PY
