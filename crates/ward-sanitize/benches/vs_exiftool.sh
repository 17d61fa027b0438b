#!/usr/bin/env bash
# Times the `sanitize` example against `exiftool -all=` on the same file, as whole processes
# (start-up included), and prints the mean wall time and the mean CPU time (user + system) of
# each, and their ratios. The file is a generated 12-megapixel JPEG, or FILE when given (a
# `.heic`/`.heif` FILE builds the example with the `heic` feature). Run from the repository root:
#   bash crates/ward-sanitize/benches/vs_exiftool.sh [RUNS] [FILE]
#   bash crates/ward-sanitize/benches/vs_exiftool.sh 10 crates/ward-sanitize/tests/corpus/heic/arrow.heic
# Needs exiftool (Debian libimage-exiftool-perl) and GNU time (Debian time); uses hyperfine when
# installed.
set -euo pipefail
runs="${1:-10}"
file="${2:-}"
target="${CARGO_TARGET_DIR:-target}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

ext="jpg"
features=()
case "$file" in
    *.heic | *.heif) ext="heic"; features=(--features heic) ;;
esac
cargo build --quiet --release -p ward-sanitize "${features[@]}" --example sanitize --example make_photo
if [ -n "$file" ]; then
    cp "$file" "$work/photo.$ext"
else
    "$target/release/examples/make_photo" "$work/photo.jpg"
fi
sanitize="$target/release/examples/sanitize"

if command -v hyperfine > /dev/null; then
    hyperfine --warmup 2 --runs "$runs" \
        "$sanitize $work/photo.$ext $work/out.$ext" \
        --prepare "cp $work/photo.$ext $work/ex.$ext" \
        "exiftool -q -all= -overwrite_original $work/ex.$ext"
fi

# Prints "WALL_MS CPU_MS", the means over $runs runs of "$@"; exiftool edits a fresh copy of
# the photo each time, made outside the timed command.
time_runs() {
    local wall=0 cpu=0
    for _ in $(seq "$runs"); do
        cp "$work/photo.$ext" "$work/ex.$ext"
        /usr/bin/time -o "$work/time" -f "%e %U %S" "$@" > /dev/null
        read -r e u s < "$work/time"
        wall=$(awk -v a="$wall" -v e="$e" 'BEGIN { print a + e }')
        cpu=$(awk -v a="$cpu" -v u="$u" -v s="$s" 'BEGIN { print a + u + s }')
    done
    awk -v w="$wall" -v c="$cpu" -v n="$runs" 'BEGIN { printf "%.0f %.0f\n", w * 1000 / n, c * 1000 / n }'
}

read -r ours_wall ours_cpu < <(time_runs "$sanitize" "$work/photo.$ext" "$work/out.$ext")
read -r theirs_wall theirs_cpu < <(time_runs exiftool -q -all= -overwrite_original "$work/ex.$ext")
echo "sanitize example: ${ours_wall} ms wall, ${ours_cpu} ms CPU per file"
echo "exiftool -all=:   ${theirs_wall} ms wall, ${theirs_cpu} ms CPU per file"
awk -v a="$ours_cpu" -v b="$theirs_cpu" -v c="$ours_wall" -v d="$theirs_wall" 'BEGIN {
    if (b > 0) printf "CPU time: sanitize = %.2fx exiftool (%.1fx faster)\n", a / b, b / a
    if (d > 0) printf "wall time: sanitize = %.2fx exiftool\n", c / d
}'
