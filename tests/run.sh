#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need when it is missing, then
# runs the whole suite. Debian/Ubuntu packages:
#   mesa-vulkan-drivers + libvulkan1  software Vulkan (lavapipe), for the headless GUI tests
#   ffmpeg                            the decoding fallback's tests (VP9, HEVC, Opus, 5.1 AAC)
#   appstream + desktop-file-utils    validators of the metainfo and the desktop entry
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
compgen -G "/usr/share/vulkan/icd.d/lvp_icd*.json" >/dev/null || need+=(mesa-vulkan-drivers)
compgen -G "/usr/lib/*/libvulkan.so.1" >/dev/null || compgen -G "/usr/lib*/libvulkan.so.1" >/dev/null || need+=(libvulkan1)
{ command -v ffmpeg && command -v ffprobe; } >/dev/null || need+=(ffmpeg)
command -v appstreamcli >/dev/null || need+=(appstream)
command -v desktop-file-validate >/dev/null || need+=(desktop-file-utils)
if ((${#need[@]})); then
  echo "tests/run.sh: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  if ! command -v apt-get >/dev/null; then
    echo "tests/run.sh: please install the equivalents of: ${need[*]}" >&2
    exit 1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The headless GUI tests render through wgpu on the software Vulkan adapter: no display needed.
exec cargo test --locked "$@"
