#!/usr/bin/env bash
# Bootstrap sizes: each function's release bootstrap for Lambda (arm64 by
# default), raw and zipped (`zip -9`, as a deployment package), next to a
# hello-world `lambda_runtime` binary (infra/bench/hello) built with the
# same release profile. Budget: every function at most 3 MB zipped
# (issue 11).
#
# Usage:
#   infra/bench/sizes.sh              # build (cargo lambda build --release --arm64), then measure
#   NO_BUILD=1 infra/bench/sizes.sh   # measure what target/lambda already holds
#
# Knobs (environment):
#   ARCH=--arm64 | --x86-64           cargo lambda's architecture flag
#   HELLO_TARGET_DIR=...              the hello crate's target dir
#                                     (default infra/bench/hello/target)
#   MAX_ZIP_BYTES=3000000             the budget checked at the end (3 MB)
#
# cargo lambda fills in the release settings Cargo.toml leaves unset: it
# passes `--config profile.release.panic="abort"` (Cargo.toml sets lto,
# codegen-units, strip and opt-level, not panic) and
# `-C target-cpu=neoverse-n1` for arm64, so these are the bootstraps
# `sam build` deploys, built with panic=abort.
#
# Requires cargo-lambda (`pip install cargo-lambda`: it brings zig and adds
# the Rust target itself) and zip. A clean arm64 build of every function
# took about 8 minutes on 2 cores when there were eight.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
ARCH="${ARCH:---arm64}"
HELLO_TARGET_DIR="${HELLO_TARGET_DIR:-$here/hello/target}"
MAX_ZIP_BYTES="${MAX_ZIP_BYTES:-3000000}"

for tool in cargo-lambda zip; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done

packages=() bins=()
for manifest in "$root"/functions/*/Cargo.toml; do
    packages+=(-p "$(sed -n 's/^name = "\(.*\)"/\1/p' "$manifest" | head -n 1)")
    bins+=("$(sed -n '/^\[\[bin\]\]/,/^name/ s/^name = "\(.*\)"/\1/p' "$manifest")")
done

if [ -z "${NO_BUILD:-}" ]; then
    (cd "$root" && cargo lambda build --release "$ARCH" "${packages[@]}")
    (cd "$here/hello" && CARGO_TARGET_DIR="$HELLO_TARGET_DIR" cargo lambda build --release "$ARCH")
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Prints "name raw zipped" for one bootstrap.
measure() {
    local name="$1" bootstrap="$2"
    [ -f "$bootstrap" ] || { echo "missing: $bootstrap" >&2; return 1; }
    rm -f "$work/bootstrap.zip"
    (cd "$(dirname "$bootstrap")" && zip -q -9 "$work/bootstrap.zip" bootstrap)
    printf '%s %s %s\n' "$name" "$(stat -c %s "$bootstrap")" "$(stat -c %s "$work/bootstrap.zip")"
}

rows="$work/rows"
: >"$rows"
for name in "${bins[@]}"; do
    measure "$name" "$root/target/lambda/$name/bootstrap" >>"$rows"
done
measure "hello-world (lambda_runtime)" "$HELLO_TARGET_DIR/lambda/hello/bootstrap" >>"$rows"

echo "release bootstraps, cargo lambda build --release $ARCH ($(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo '?'))"
echo
echo "| function | bootstrap | zipped (zip -9) |"
echo "|---|---:|---:|"
awk '{ z = $NF; r = $(NF-1); NF -= 2;
       printf "| %s | %.2f MB (%d) | %.2f MB (%d) |\n", $0, r / 1e6, r, z / 1e6, z }' "$rows"
echo
over="$(awk -v max="$MAX_ZIP_BYTES" '!/^hello-world/ && $NF > max { print $1 }' "$rows")"
if [ -n "$over" ]; then
    echo "over the ${MAX_ZIP_BYTES}-byte zipped budget: $over" >&2
    exit 1
fi
echo "every function within ${MAX_ZIP_BYTES} bytes zipped"
