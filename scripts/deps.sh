#!/bin/bash
# Installs from Debian what building, running and testing wsgitrace needs.
# Idempotent and quiet when everything is there already.
set -euo pipefail
PKGS=(
	make clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config
	libmicrohttpd-dev libcmocka-dev libclang-rt-14-dev
	libyaml-dev libgnutls28-dev libcrypt-dev openssl
	python3 python3-flask python3-gevent gunicorn
	uwsgi-core uwsgi-plugin-python3 nginx-light prometheus curl wrk
	python3-prometheus-client python3-statsd gnuplot-nox
	podman buildah runc binutils python3-yaml
)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
	if [[ $EUID -ne 0 ]]; then
		echo "wsgitrace: missing Debian packages: ${missing[*]}; run as root or install them" >&2
		exit 1
	fi
	echo "wsgitrace: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's nginx and prometheus packages may start their services on install;
# the tests run their own instances on their own ports.
