#!/usr/bin/env bash
# Export decryption against openssl on the same file, in one run (issue 21's floor):
#   bench/decrypt.sh [MiB] [runs]
# ksef-rs's two-thread path (SessionKey::decrypt_stream: the ciphertext's SHA-256 and AES on one
# thread, the plaintext's SHA-256 and the writes on the other), its one-thread adapter
# (DecryptingWriter), `openssl enc -d`, `openssl dgst -sha256`, and openssl doing the whole job
# (both hashes and the decryption, as three processes on the two cores). Each row: median wall
# seconds, median user and system CPU seconds. Output goes to a file in $TMPDIR; every output is
# compared with the plaintext.
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-1024}
RUNS=${2:-3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ksef-decrypt-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cargo build --release -q -p ksef-crypto --example bench_prep
PREP=target/release/examples/bench_prep
KEY=$(openssl rand -hex 32)
IV=$(openssl rand -hex 16)
head -c "$((MIB * 1024 * 1024 - 1))" /dev/urandom >"$WORK/plain"
openssl enc -aes-256-cbc -K "$KEY" -iv "$IV" -in "$WORK/plain" -out "$WORK/enc"
cat "$WORK/enc" "$WORK/plain" >/dev/null
echo "input: $MIB MiB, $RUNS runs each, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
row() {
    local label=$1 check=$2; shift 2
    local walls=() users=() syss=() t0 t1
    for ((r = 1; r <= RUNS; r++)); do
        rm -f "$WORK/out"
        t0=$EPOCHREALTIME
        /usr/bin/time -f '%U %S' -o "$WORK/time" "$@" >/dev/null
        t1=$EPOCHREALTIME
        if [[ $check == cmp ]]; then cmp -s "$WORK/plain" "$WORK/out" || { echo "$label: output differs" >&2; exit 1; }; fi
        walls+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')")
        users+=("$(cut -d' ' -f1 "$WORK/time")")
        syss+=("$(cut -d' ' -f2 "$WORK/time")")
    done
    printf '%-44s wall %6.2f s   user %5.2f s   sys %5.2f s\n' "$label" \
        "$(printf '%s\n' "${walls[@]}" | median)" "$(printf '%s\n' "${users[@]}" | median)" \
        "$(printf '%s\n' "${syss[@]}" | median)"
}
row "ksef-rs decrypt_stream (verify + decrypt)" cmp "$PREP" decrypt "$WORK/enc" "$WORK/out" "$KEY" "$IV"
row "ksef-rs DecryptingWriter (verify + decrypt)" cmp "$PREP" decrypt-serial "$WORK/enc" "$WORK/out" "$KEY" "$IV"
row "openssl enc -d (decrypt only)" cmp openssl enc -d -aes-256-cbc -K "$KEY" -iv "$IV" -in "$WORK/enc" -out "$WORK/out"
row "openssl dgst -sha256 (one hash)" none openssl dgst -sha256 "$WORK/enc"
row "openssl, both hashes + decrypt" cmp bash -c 'openssl dgst -sha256 "$1" & openssl enc -d -aes-256-cbc -K "$2" -iv "$3" -in "$1" | tee "$4" | openssl dgst -sha256; wait' _ "$WORK/enc" "$KEY" "$IV" "$WORK/out"
