#!/bin/bash
# Builds OUT/wsgitrace_VERSION_ARCH.deb with dpkg-deb from the files `make install
# PREFIX=/usr` lays out: the daemon (debug info stripped), its man page (gzipped, as
# Debian policy wants), the systemd unit, /etc/default/wsgitrace (a conffile), the alert
# rules and the dashboard. Depends is what dpkg-shlibdeps finds the daemon links to.
# The package starts nothing: `systemctl enable --now wsgitrace` is the user's choice.
# Usage: scripts/deb.sh OUT
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build}
version=$(cat VERSION)
arch=$(dpkg --print-architecture)
work=$out/deb
root=$work/root
rm -rf "$work"
mkdir -p "$root/DEBIAN" "$work/debian"

make --no-print-directory -s install DESTDIR="$PWD/$root" PREFIX=/usr OUT="$out" >/dev/null
strip --strip-debug --remove-section=.comment "$root/usr/sbin/wsgitrace"
gzip -9n "$root/usr/share/man/man8/wsgitrace.8"
doc=$root/usr/share/doc/wsgitrace
install -d "$doc"
cat >"$doc/copyright" <<'EOF'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: wsgitrace

Files: *
License: MIT

Files: bpf/*
License: GPL-2.0 or MIT
 The BPF programs loaded into the kernel are dual licensed.
 On Debian systems the GPL-2.0 is in /usr/share/common-licenses/GPL-2.
EOF

# dpkg-shlibdeps reads the package names from a debian/control of a source tree.
printf 'Source: wsgitrace\n\nPackage: wsgitrace\nArchitecture: any\n' >"$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O "root/usr/sbin/wsgitrace" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[[ -n $depends ]] || { echo "deb.sh: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: wsgitrace
Version: $version
Architecture: $arch
Maintainer: wsgitrace developers <wsgitrace@localhost>
Installed-Size: $size
Depends: $depends
Section: admin
Priority: optional
Description: request latency of Python web servers as Prometheus metrics
 eBPF programs (tracepoints only, no kprobes) watch the client sockets of
 every Python web server (gunicorn, uWSGI, uvicorn, ...) on the host; a small daemon pairs each
 request with its response and serves exact histograms on /metrics.
 No change to the app, no restart. Includes a hardened systemd unit
 (not enabled on install), alerting rules and a Grafana dashboard.
EOF
echo /etc/default/wsgitrace >"$root/DEBIAN/conffiles"

# Maintainer scripts: systemd learns of the unit; the service is stopped before its
# files are removed and restarted on upgrade only if it was running.
cat >"$root/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
	if [ -n "$2" ]; then
		systemctl try-restart wsgitrace.service >/dev/null || true
	fi
fi
EOF
cat >"$root/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
	systemctl stop wsgitrace.service >/dev/null || true
fi
EOF
cat >"$root/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = purge ]; then
	rm -f /etc/systemd/system/multi-user.target.wants/wsgitrace.service
fi
if [ -d /run/systemd/system ]; then
	systemctl --system daemon-reload >/dev/null || true
fi
EOF
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm"

deb=$out/wsgitrace_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
