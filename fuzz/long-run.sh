#!/usr/bin/env bash
# The long fuzz run: every target in turn (one at a time: the machine is shared), RUNS
# executions each from its committed seeds, logging to OUT/<target>.log and writing one table
# row per target to OUT/summary.md (executions, exec/s, wall time, coverage, crashes).
#
#   fuzz/long-run.sh [RUNS] [OUT] [TARGET...]   # default 10000000 /work/fuzz-long, all targets
#                                               # (named targets: rows appended to the summary)
#   SANITIZER=address fuzz/long-run.sh          # default none: panics and invariants only, ~2× faster
#
# Builds into OUT/target (not fuzz/target, so CI's AddressSanitizer build stays intact). New
# corpus entries go to OUT/corpus/<target>/, crashing inputs to OUT/artifacts/<target>/.
set -uo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10000000}"
out="${2:-/work/fuzz-long}"
shift $(($# < 2 ? $# : 2))
sanitizer="${SANITIZER:-none}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
summary="$out/summary.md"

cargo +nightly fuzz build -s "$sanitizer" --target-dir "$out/target" >"$out/build.log" 2>&1 || {
    echo "build failed, see $out/build.log" >&2
    exit 1
}
targets=("$@")
if ((${#targets[@]} == 0)); then
    # A run of every target starts a new summary; a run of named targets (a rerun) appends.
    mapfile -t targets < <(cargo +nightly fuzz list)
    : >"$summary"
fi

{
    echo "## Long fuzz run, started $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Commit $(git rev-parse --short HEAD) ($(git log -1 --format=%s | cut -c1-70)), $(nproc) cores" \
        "shared, sanitizer $sanitizer, debug assertions on, -runs=$runs per target, one at a time."
    echo
    echo "| target | executions | exec/s | wall time | cov | ft | corpus | crashes |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
} >>"$summary"

for target in "${targets[@]}"; do
    log="$out/$target.log"
    mkdir -p "$out/corpus/$target" "$out/artifacts/$target"
    start="$(date +%s)"
    cargo +nightly fuzz run -s "$sanitizer" --target-dir "$out/target" "$target" \
        "$out/corpus/$target" "fuzz/corpus/$target" -- \
        -runs="$runs" -timeout=60 -print_final_stats=1 \
        -artifact_prefix="$out/artifacts/$target/" >"$log" 2>&1
    status=$?
    wall=$(($(date +%s) - start))
    executions="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    per_second="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
    last="$(grep -E '(DONE|pulse|NEW|REDUCE) +cov:' "$log" | tail -1)"
    cov="$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")"
    ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
    corpus="$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")"
    if ((status == 0)); then
        crashes="0"
    else
        crashes="**exit $status**: $(ls "$out/artifacts/$target" | head -3 | tr '\n' ' ')(see $target.log)"
    fi
    printf '| %s | %s | %s | %dh%02dm%02ds | %s | %s | %s | %s |\n' "$target" "${executions:-?}" \
        "${per_second:-?}" $((wall / 3600)) $((wall % 3600 / 60)) $((wall % 60)) "${cov:-?}" \
        "${ft:-?}" "${corpus:-?}" "$crashes" >>"$summary"
done
{
    echo
    echo "Finished $(date -u '+%Y-%m-%d %H:%M UTC')."
    echo
} >>"$summary"
