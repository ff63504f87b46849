#!/bin/bash
# Builds the Debian package and checks it: the man page and shell completions come from the
# binary's own option definitions, then `cargo deb` packs the binary, desktop entry, icons,
# metainfo, man page and completions; `dpkg-deb --info/--contents` must list each of them.
#   packaging/deb.sh              release build (about half an hour on 2 cores the first time)
#   packaging/deb.sh --profile dev   the dev build `cargo run` already made (to check packaging)
# Needs cargo-deb (`cargo install cargo-deb`).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
if [ "${1:-}" = "--profile" ]; then profile=${2:?--profile NAME}; fi
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
command -v cargo-deb > /dev/null || { echo "cargo-deb is not installed: cargo install cargo-deb" >&2; exit 1; }
cargo build --profile "$profile" --locked --bin mcgurk
bin=target/$dir/mcgurk
mkdir -p target/packaging
"$bin" man > target/packaging/mcgurk.1
gzip -9nf target/packaging/mcgurk.1
"$bin" completions bash > target/packaging/mcgurk.bash
"$bin" completions zsh > target/packaging/_mcgurk
"$bin" completions fish > target/packaging/mcgurk.fish
deb=$(cargo deb --no-build --profile "$profile" --locked | tail -1)
echo "package: $deb"
info=$(dpkg-deb --info "$deb")
echo "$info"
contents=$(dpkg-deb --contents "$deb")
echo "$contents"
for path in usr/bin/mcgurk usr/share/applications/org.mcgurk.McGurk.desktop \
    usr/share/metainfo/org.mcgurk.McGurk.metainfo.xml usr/share/icons/hicolor/scalable/apps/org.mcgurk.McGurk.svg \
    usr/share/icons/hicolor/256x256/apps/org.mcgurk.McGurk.png usr/share/man/man1/mcgurk.1.gz \
    usr/share/bash-completion/completions/mcgurk usr/share/zsh/vendor-completions/_mcgurk \
    usr/share/fish/vendor_completions.d/mcgurk.fish; do
    grep -q "\./$path\$" <<< "$contents" || { echo "missing from the package: /$path" >&2; exit 1; }
done
for field in "Depends:.*libvulkan1" "Recommends:.*ffmpeg"; do
    grep -q "$field" <<< "$info" || { echo "control lacks $field" >&2; exit 1; }
done
echo "ok: $deb"
