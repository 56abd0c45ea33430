#!/bin/bash
# Short libFuzzer runs of every fuzzer from its seed corpus; a crash fails.
set -u
secs=$1; shift
pass=0 fail=0
for f in "$@"; do
	name=$(basename "$f")
	corpus=build/corpus/$name
	mkdir -p "$corpus"
	seeds=tests/fuzz/seeds/${name#fuzz_}
	if "$f" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -print_final_stats=0 \
		"$corpus" ${seeds:+$( [[ -d $seeds ]] && echo "$seeds")} >build/fuzz/$name.log 2>&1; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1)); echo "FUZZ FAILED: $name" >&2; tail -40 build/fuzz/$name.log >&2
	fi
done
echo "fuzz: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
