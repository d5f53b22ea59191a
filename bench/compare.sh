#!/usr/bin/env bash
# Side-by-side comparison of ksef-rs with the other KSeF clients (issue 10, "Comparison").
#
#   bench/compare.sh            # full run: 10,000 invoices, 1 GiB export, 50 `--help` runs
#
# Needs the network (PyPI, npm registry); never run in CI. See bench/README.md for what is
# measured, the knobs (environment variables below) and how to read the output.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
WORK=${BENCH_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/ksef-bench.XXXXXX")}
N=${BENCH_N:-10000}                     # invoices per data set
SMALL=${BENCH_SMALL:-3072}              # bytes per small invoice
LARGE=${BENCH_LARGE:-102400}            # bytes per large invoice
DECRYPT_MIB=${BENCH_DECRYPT_MIB:-1024}  # export ciphertext size
HELP_RUNS=${BENCH_HELP_RUNS:-50}        # `ksef --help` runs (median)
OTHER_START_RUNS=${BENCH_OTHER_START_RUNS:-10}  # start-up runs of the other clients
REPEAT=${BENCH_REPEAT:-3}              # runs per heavy task (median)
NICE=(nice -n "${BENCH_NICE:-10}")
RESULTS="$WORK/results.tsv"

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
mkdir -p "$WORK"
: >"$RESULTS"
log "work directory: $WORK"

# --- tools ------------------------------------------------------------------------------------
if [[ ! -x /usr/bin/time ]]; then
    log "installing GNU time (Debian package 'time')"
    apt-get install -y time >/dev/null || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
fi

log "building ksef (release) and the bench_prep example"
(cd "$ROOT" && "${NICE[@]}" cargo build --release -q -p ksef-cli \
    && "${NICE[@]}" cargo build --release -q -p ksef-crypto --example bench_prep)
KSEF="$ROOT/target/release/ksef"
PREP="$ROOT/target/release/examples/bench_prep"

# Python >= 3.12 (ksef2 requires it): $BENCH_PYTHON, else the first one found.
PY=${BENCH_PYTHON:-}
if [[ -z "$PY" ]]; then
    for candidate in python3.13 python3.12 "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3 python3; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
            PY=$(command -v "$candidate"); break
        fi
    done
fi
PY=${PY:-python3}
VENV="$WORK/venv"
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip >/dev/null 2>&1 || true
declare -A NA=()   # client -> reason it is unavailable
"$VENV/bin/pip" install -q 'ksef-client[cli]' >"$WORK/pip-ksef-client.log" 2>&1 \
    || NA[ksef-client]="pip install ksef-client failed: $(tail -1 "$WORK/pip-ksef-client.log")"
"$VENV/bin/pip" install -q ksef2 >"$WORK/pip-ksef2.log" 2>&1 \
    || NA[ksef2]="pip install ksef2 failed: $(tail -1 "$WORK/pip-ksef2.log")"
NODE_DIR="$WORK/node"
mkdir -p "$NODE_DIR"
if command -v npm >/dev/null 2>&1; then
    (cd "$NODE_DIR" && npm init -y >/dev/null 2>&1 && npm install --no-audit --no-fund ksef-client-ts \
        >"$WORK/npm.log" 2>&1) || NA[ksef-client-ts]="npm install ksef-client-ts failed"
else
    NA[ksef-client-ts]="npm not installed"
fi

# --- versions ---------------------------------------------------------------------------------
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "nproc: $(nproc)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "ram: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "kernel: $(uname -sr)"
    echo "ksef-rs: $("$KSEF" --version 2>/dev/null | head -1) ($(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')), $(rustc --version)"
    echo "python: $("$VENV/bin/python" --version 2>&1)"
    for pkg in ksef-client ksef2 cryptography; do
        echo "$pkg: $("$VENV/bin/pip" show "$pkg" 2>/dev/null | awk '/^Version:/ {print $2}')"
    done
    echo "node: $(node --version 2>/dev/null)"
    echo "ksef-client-ts: $(node -p "require('$NODE_DIR/node_modules/ksef-client-ts/package.json').version" 2>/dev/null)"
    echo "openssl: $(openssl version)"
} >"$WORK/versions.txt"
cat "$WORK/versions.txt" >&2

# --- data -------------------------------------------------------------------------------------
log "generating $N x $SMALL B and $N x $LARGE B invoices"
python3 "$BENCH/gen_invoices.py" "$ROOT/fixtures/invoices/fa3-sample.xml" "$WORK/small" "$N" "$SMALL"
python3 "$BENCH/gen_invoices.py" "$ROOT/fixtures/invoices/fa3-sample.xml" "$WORK/large" "$N" "$LARGE"
log "generating the RSA-2048 certificate and the $DECRYPT_MIB MiB export ciphertext"
openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=ksef-bench" -days 2 \
    -keyout "$WORK/mf.key" -out "$WORK/mf.pem" >/dev/null 2>&1
KEY_HEX=$(openssl rand -hex 32)
IV_HEX=$(openssl rand -hex 16)
head -c "$((DECRYPT_MIB * 1024 * 1024 - 1))" /dev/urandom >"$WORK/export.plain"   # -1: pads to a full block
openssl enc -aes-256-cbc -K "$KEY_HEX" -iv "$IV_HEX" -in "$WORK/export.plain" -out "$WORK/export.aes"
cat "$WORK"/small/* "$WORK"/large/* "$WORK/export.aes" >/dev/null   # warm the page cache for everyone

# --- measuring --------------------------------------------------------------------------------
# measure TASK CLIENT CHECK CMD...: $REPEAT runs under /usr/bin/time (median wall from
# $EPOCHREALTIME, median peak RSS); exit status other than 0 means "n/a". CHECK is a shell
# snippet run after each run that must succeed for the result to count. $outdir, when set, is
# removed before each run.
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
measure() {
    local task=$1 client=$2 check=$3; shift 3
    if [[ -n "${NA[$client]:-}" ]]; then
        printf '%s\t%s\t\t\tn/a (%s)\n' "$task" "$client" "${NA[$client]}" >>"$RESULTS"; return
    fi
    local out="$WORK/log/$task.$client"
    mkdir -p "$WORK/log"
    local walls=() rsss=() run rc t0 t1
    for ((run = 1; run <= REPEAT; run++)); do
        log "$task: $client (run $run/$REPEAT)"
        [[ -n "${outdir:-}" ]] && rm -rf "$outdir"
        rc=0
        t0=$EPOCHREALTIME
        /usr/bin/time -f '%M' -o "$out.time" "${NICE[@]}" "$@" >"$out.out" 2>"$out.err" || rc=$?
        t1=$EPOCHREALTIME
        if [[ $rc -ne 0 ]]; then
            local why
            why=$(grep -v '^Command exited' "$out.err" | tail -1 | tr '\t' ' ' | cut -c1-140)
            printf '%s\t%s\t\t\tn/a (exit %s: %s)\n' "$task" "$client" "$rc" "$why" >>"$RESULTS"; return
        fi
        if ! (eval "$check") >>"$out.err" 2>&1; then
            printf '%s\t%s\t\t\tn/a (output check failed)\n' "$task" "$client" >>"$RESULTS"; return
        fi
        walls+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", b - a}')")
        rsss+=("$(tail -1 "$out.time")")
    done
    printf '%s\t%s\t%s\t%s\tok\n' "$task" "$client" "$(printf '%s\n' "${walls[@]}" | median)" \
        "$(printf '%s\n' "${rsss[@]}" | median | cut -d. -f1)" >>"$RESULTS"
}

# startup TASK CLIENT RUNS CMD...: median wall (ms, from $EPOCHREALTIME) and median peak RSS.
startup() {
    local task=$1 client=$2 runs=$3; shift 3
    if [[ -n "${NA[$client]:-}" ]]; then
        printf '%s\t%s\t\t\tn/a (%s)\n' "$task" "$client" "${NA[$client]}" >>"$RESULTS"; return
    fi
    log "$task: $client ($runs runs)"
    "${NICE[@]}" "$@" >/dev/null 2>&1 || {
        printf '%s\t%s\t\t\tn/a (exit %s)\n' "$task" "$client" "$?" >>"$RESULTS"; return; }
    local walls=() rsss=() i t0 t1
    for ((i = 0; i < runs; i++)); do
        t0=$EPOCHREALTIME
        "${NICE[@]}" "$@" >/dev/null 2>&1
        t1=$EPOCHREALTIME
        walls+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", b - a}')")
        /usr/bin/time -f '%M' -o "$WORK/rss.tmp" "${NICE[@]}" "$@" >/dev/null 2>&1
        rsss+=("$(tail -1 "$WORK/rss.tmp")")
    done
    printf '%s\t%s\t%s\t%s\tok\n' "$task" "$client" "$(printf '%s\n' "${walls[@]}" | median)" \
        "$(printf '%s\n' "${rsss[@]}" | median | cut -d. -f1)" >>"$RESULTS"
}

PYD=("$VENV/bin/python" "$BENCH/python/driver.py")
NODED=(node "$BENCH/node/driver.mjs")
parts_ok='ls "$outdir" | grep -q .'

for set in small large; do
    task="batch-$set"
    outdir="$WORK/out/$task.ksef-rs"
    measure "$task" ksef-rs "$parts_ok" "$KSEF" batch pack "$WORK/$set" --public-cert "$WORK/mf.pem" --out "$outdir"
    outdir="$WORK/out/$task.ksef-client"
    measure "$task" ksef-client "$parts_ok" "${PYD[@]}" ksef-client batch "$WORK/$set" "$WORK/mf.pem" "$outdir"
    outdir="$WORK/out/$task.ksef2"
    measure "$task" ksef2 "$parts_ok" "${PYD[@]}" ksef2 batch "$WORK/$set" "$WORK/mf.pem" "$outdir"
    outdir="$WORK/out/$task.ksef-client-ts"
    measure "$task" ksef-client-ts "$parts_ok" bash -c 'cd "$1" && shift && exec "$@"' _ "$NODE_DIR" \
        "${NODED[@]}" batch "$WORK/$set" "$WORK/mf.pem" "$outdir"
    rm -rf "$WORK/out"
done

outdir=""
measure online ksef-rs true "$PREP" online "$WORK/small"
measure online ksef-client true "${PYD[@]}" ksef-client online "$WORK/small"
measure online ksef2 true "${PYD[@]}" ksef2 online "$WORK/small"
measure online ksef-client-ts true bash -c 'cd "$1" && shift && exec "$@"' _ "$NODE_DIR" \
    "${NODED[@]}" online "$WORK/small"

for client in ksef-rs ksef-client ksef2 ksef-client-ts; do
    outdir=""
    plain="$WORK/export.$client.out"
    check="cmp -s '$WORK/export.plain' '$plain'"
    case $client in
        ksef-rs) measure decrypt "$client" "$check" "$PREP" decrypt "$WORK/export.aes" "$plain" "$KEY_HEX" "$IV_HEX" ;;
        ksef-client-ts) measure decrypt "$client" "$check" bash -c 'cd "$1" && shift && exec "$@"' _ "$NODE_DIR" \
            "${NODED[@]}" decrypt "$WORK/export.aes" "$plain" "$KEY_HEX" "$IV_HEX" ;;
        *) measure decrypt "$client" "$check" "${PYD[@]}" "$client" decrypt "$WORK/export.aes" "$plain" "$KEY_HEX" "$IV_HEX" ;;
    esac
    rm -f "$plain"
done

# Start-up: the CLI where there is one, else the import of the package.
startup startup ksef-rs "$HELP_RUNS" "$KSEF" --help
startup startup ksef-client "$OTHER_START_RUNS" "$VENV/bin/ksef" --help
startup startup ksef2 "$OTHER_START_RUNS" "$VENV/bin/python" -c 'import ksef2'
startup startup ksef-client-ts "$OTHER_START_RUNS" node "$NODE_DIR/node_modules/ksef-client-ts/dist/cli.js" --help

python3 "$BENCH/report.py" "$RESULTS" "$WORK/versions.txt" "$N" "$SMALL" "$LARGE" "$DECRYPT_MIB" \
    "$HELP_RUNS" "$OTHER_START_RUNS" "$REPEAT" | tee "$WORK/results.md"
log "raw results: $RESULTS; table: $WORK/results.md (BENCH_KEEP=1 keeps the data)"
if [[ -z "${BENCH_KEEP:-}" ]]; then
    rm -rf "$WORK/small" "$WORK/large" "$WORK/export.plain" "$WORK/export.aes" "$WORK/venv" "$WORK/node"
fi
