#!/usr/bin/env bash
# Times the `sanitize` example against `exiftool -all=` on the same 12-megapixel JPEG, as whole
# processes (start-up included), and prints the ratio. Run from the repository root:
#   bash crates/ward-sanitize/benches/vs_exiftool.sh [RUNS]
# Needs exiftool (Debian libimage-exiftool-perl); uses hyperfine when installed.
set -euo pipefail
runs="${1:-10}"
target="${CARGO_TARGET_DIR:-target}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --quiet --release -p ward-sanitize --example sanitize --example make_photo
"$target/release/examples/make_photo" "$work/photo.jpg"
sanitize="$target/release/examples/sanitize"

time_runs() { # prints the mean wall time in milliseconds of "$@" over $runs runs
    local start end
    start=$(date +%s%N)
    for _ in $(seq "$runs"); do "$@" > /dev/null; done
    end=$(date +%s%N)
    echo $(( (end - start) / runs / 1000000 ))
}

if command -v hyperfine > /dev/null; then
    hyperfine --warmup 2 --runs "$runs" \
        "$sanitize $work/photo.jpg $work/out.jpg" \
        "cp $work/photo.jpg $work/ex.jpg && exiftool -q -all= -overwrite_original $work/ex.jpg"
fi
ours=$(time_runs "$sanitize" "$work/photo.jpg" "$work/out.jpg")
theirs=$(time_runs bash -c "cp '$work/photo.jpg' '$work/ex.jpg' && exiftool -q -all= -overwrite_original '$work/ex.jpg'")
echo "sanitize example: ${ours} ms per file; exiftool -all=: ${theirs} ms per file"
awk -v a="$ours" -v b="$theirs" 'BEGIN { if (a > 0) printf "ratio: %.1fx\n", b / a }'
