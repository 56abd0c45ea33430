#!/bin/bash
# Short libFuzzer runs of every fuzzer from its seed corpus; a crash fails.
# libFuzzer writes new inputs to the first corpus directory only
# (build/corpus/NAME); the seed directories after it are read, never changed.
set -u
secs=$1; shift
pass=0 fail=0
for f in "$@"; do
	name=$(basename "$f")
	corpus=build/corpus/$name
	mkdir -p "$corpus"
	seeds=()
	[[ -d tests/fuzz/seeds/${name#fuzz_} ]] && seeds+=("tests/fuzz/seeds/${name#fuzz_}")
	# The HTTP request corpus of the integration tests: real-world and hostile heads and bodies.
	case $name in fuzz_http | fuzz_conntrack) seeds+=(tests/corpus/http) ;; esac
	# The uwsgi packet corpus: odd keys, empty and huge values, modifiers, bodies.
	case $name in fuzz_uwsgi | fuzz_conntrack) seeds+=(tests/corpus/uwsgi) ;; esac
	if "$f" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -print_final_stats=0 \
		"$corpus" "${seeds[@]}" >build/fuzz/$name.log 2>&1; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1)); echo "FUZZ FAILED: $name" >&2; tail -40 build/fuzz/$name.log >&2
	fi
done
echo "fuzz: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
