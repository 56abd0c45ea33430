#!/bin/bash
# Builds the container image localhost/wsgitrace:VERSION from a built daemon
# (default build/wsgitrace): FROM scratch with the binary, exactly the shared
# libraries it loads (ldd) and their Debian copyright files. The version and
# revision come from the binary itself, so tag, labels and --version agree.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/wsgitrace}
ctx=build/image
podman=(podman --runtime=runc --cgroup-manager=cgroupfs)

if ! command -v podman >/dev/null; then
	echo "wsgitrace: make image needs podman (make deps installs it)" >&2
	exit 1
fi
# "wsgitrace 0.1.0 (cededda)"
read -r _ version rev < <("$bin" --version)
rev=${rev#(}
rev=${rev%)}
head=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ $rev != "$head" ]]; then
	echo "wsgitrace: note: $bin says revision $rev, the worktree is at $head (rebuild it to match)" >&2
fi

rm -rf "$ctx"
mkdir -p "$ctx/root/usr/bin"
# Debug info stays in build/; the image gets the code only.
objcopy --strip-debug "$bin" "$ctx/root/usr/bin/wsgitrace"
libs=$(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
for lib in $libs; do
	# Modes as Debian ships them: the kernel refuses a loader it cannot execute.
	install -D -m "$(stat -c %a "$(readlink -f "$lib")")" "$(readlink -f "$lib")" "$ctx/root$lib"
	# usrmerge: dpkg may know the file under /usr only.
	pkg=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "/usr$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")")
	pkg=${pkg%%:*}
	install -D -m 0644 "/usr/share/doc/$pkg/copyright" "$ctx/root/usr/share/doc/$pkg/copyright"
done
cp deploy/image/Containerfile "$ctx/"

"${podman[@]}" build --quiet -f "$ctx/Containerfile" -t "localhost/wsgitrace:$version" \
	--label org.opencontainers.image.title=wsgitrace \
	--label org.opencontainers.image.version="$version" \
	--label org.opencontainers.image.revision="$rev" "$ctx" >/dev/null
# The build before this one, now untagged: keep the storage from growing with every build.
"${podman[@]}" image prune --force --filter label=org.opencontainers.image.title=wsgitrace >/dev/null
size=$("${podman[@]}" image inspect --format '{{.Size}}' "localhost/wsgitrace:$version")
echo "wsgitrace: built localhost/wsgitrace:$version ($rev), $((size / 1024 / 1024)) MiB"
