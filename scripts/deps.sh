#!/bin/bash
# Installs from Debian what one use of wsgitrace needs, and nothing more:
#   scripts/deps.sh run     building and running (make run, make install, make deb)
#   scripts/deps.sh test    that, plus the unit and fuzz tests, the real servers and
#                           clients of the integration tests, Prometheus, podman (make test)
#   scripts/deps.sh deb     that, plus dpkg-dev (the package's dependencies, make deb)
#   scripts/deps.sh bench   that, plus the benchmark's load generator, the in-process
#                           exporters it compares with, and gnuplot (make bench)
#   scripts/deps.sh --list MODE   prints the packages of MODE, one a line, installs nothing
# Several modes may be given. Idempotent, and quiet when everything is there already.
#
# No service starts on this host because of it. Some packages start one when they are
# installed (nginx-light on :80, prometheus on :9090: the user's own may be there). While
# apt-get runs, /usr/sbin/policy-rc.d answers 101 ("action forbidden"), which invoke-rc.d
# and deb-systemd-invoke ask before starting anything (Debian policy 9.3.3); a policy-rc.d
# the host already had is put back afterwards. The units those packages enable are then
# disabled again (deb-systemd-helper, as their own scripts do), so they do not start at
# the next boot either; a package that was already installed is left as it was.
set -euo pipefail

# package  modes that need it (test and bench include run)
TABLE='
make                       run
clang                      run
llvm                       run
libbpf-dev                 run
bpftool                    run
libelf-dev                 run
zlib1g-dev                 run
pkg-config                 run
libmicrohttpd-dev          run
libyaml-dev                run
libgnutls28-dev            run
libcrypt-dev               run
libprotobuf-c-dev          run
protobuf-c-compiler        run
golang-github-prometheus-client-model-dev run
libcmocka-dev              test
libclang-rt-14-dev         test
protobuf-compiler          test
openssl                    test
python3                    test,bench
python3-flask              test,bench
python3-gevent             test,bench
python3-yaml               test
gunicorn                   test,bench
uwsgi-core                 test,bench
uwsgi-plugin-python3       test,bench
nginx-light                test
prometheus                 test
curl                       test
apache2-utils              test
nghttp2-client             test
python3-uvicorn            test
python3-hypercorn          test
daphne                     test
python3-asgiref            test
python3-waitress           test
python3-fastapi            test
python3-httptools          test
python3-websockets         test
python3-uvloop             test
python3-wsproto            test
python3-h2                 test
python3-django             test
podman                     test
buildah                    test
runc                       test
binutils                   run
nodejs                     test
debootstrap                test
dpkg-dev                   test,deb
man-db                     test
systemd                    test
wrk                        bench
python3-prometheus-client  test,bench
python3-statsd             bench
gnuplot-nox                bench
'
# Units that packages of the table enable on install; disabled again when this run installed them.
SERVICES='nginx-light:nginx prometheus:prometheus'

packages() { # MODE... -> the packages they need, in table order
	local pkg modes m
	while read -r pkg modes; do
		[[ -n $pkg ]] || continue
		for m in "$@"; do
			if [[ ,$modes, == *,$m,* || $modes == run ]]; then
				echo "$pkg"
				break
			fi
		done
	done <<<"$TABLE"
}

list=0
modes=()
for a in "$@"; do
	case $a in
	--list) list=1 ;;
	run | test | bench | deb) modes+=("$a") ;;
	*)
		echo "usage: $0 [--list] run|test|bench|deb..." >&2
		exit 2
		;;
	esac
done
((${#modes[@]})) || modes=(run)
mapfile -t pkgs < <(packages "${modes[@]}")
# npm comes with some builds of nodejs (NodeSource's); Debian's nodejs has it apart.
if [[ " ${pkgs[*]} " == *" nodejs "* ]] && ! command -v npm >/dev/null; then
	pkgs+=(npm)
fi
if ((list)); then
	printf '%s\n' "${pkgs[@]}"
	exit 0
fi

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]})) || exit 0
if [[ $EUID -ne 0 ]]; then
	echo "wsgitrace: missing Debian packages: ${missing[*]}; run as root or install them" >&2
	exit 1
fi
echo "wsgitrace: installing ${missing[*]}" >&2

policy=/usr/sbin/policy-rc.d
saved=
if [[ -e $policy || -L $policy ]]; then
	saved=$(mktemp "$policy.wsgitrace.XXXXXX")
	mv -f "$policy" "$saved"
fi
restore() {
	rm -f "$policy"
	[[ -z $saved ]] || mv -f "$saved" "$policy"
}
trap restore EXIT
printf '#!/bin/sh\n# scripts/deps.sh of wsgitrace: no service starts while it installs packages.\nexit 101\n' >"$policy"
chmod 755 "$policy"

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

for s in $SERVICES; do
	for p in "${missing[@]}"; do
		[[ $p == "${s%%:*}" ]] || continue
		deb-systemd-helper disable "${s#*:}.service" >/dev/null 2>&1 || true
		[[ ! -e /etc/init.d/${s#*:} ]] || update-rc.d "${s#*:}" disable >/dev/null 2>&1 || true
	done
done
