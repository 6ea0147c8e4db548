#!/usr/bin/env bash
# Build the embedded Neo4j launcher into deploy/neo4j/target/:
#   target/launcher.jar  (Main-Class + Class-Path: lib/*.jar in its manifest)
#   target/lib/*.jar     (org.neo4j:neo4j and its runtime dependencies)
# Idempotent: does nothing when target/.build-stamp holds the checksum of the current pom.xml,
# src/ and this script. A checksum, not mtimes: an edit made while Maven runs, a checkout that
# keeps old timestamps or a stamp touched after a failed compile must never leave a stale jar.
# Safe to call concurrently (flock). Uses the default Maven local repository (~/.m2) as cache.
# Env: MVN (maven command line, default "mvn").
# Flags: --force rebuilds unconditionally; --check builds nothing and exits 0 when up to date,
#        1 when a build is needed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
stamp="target/.build-stamp"

# Line 1: checksum of pom.xml (the dependency set); line 2: of every build input, names included.
inputs_sum() {
  sha256sum pom.xml | cut -d' ' -f1
  find pom.xml build.sh src -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}

up_to_date() {
  [[ -f "$stamp" && -f target/launcher.jar && -d target/lib ]] && [[ "$(cat "$stamp")" == "$(inputs_sum)" ]]
}

case "${1:-}" in
  --check) up_to_date; exit ;;
  --force | "") ;;
  *) echo "usage: $0 [--force | --check]" >&2; exit 2 ;;
esac
[[ "${1:-}" != "--force" ]] && up_to_date && exit 0

mkdir -p target
exec 9>target/.build.lock
flock 9
[[ "${1:-}" != "--force" ]] && up_to_date && exit 0   # another caller built it meanwhile

mvn_cmd=(${MVN:-mvn})
command -v "${mvn_cmd[0]}" >/dev/null || { echo "build.sh: maven (mvn) not found" >&2; exit 1; }
echo "build.sh: building Neo4j launcher (first run downloads ~170 MB into ~/.m2)..." >&2
# Taken before Maven runs: an input edited during the build leaves the stamp stale, not the jar.
sum="$(inputs_sum)"
# No "mvn clean": running servers keep using target/lib. Drop lib/ only when the dependency set may change.
if [[ ! -f "$stamp" || "$(head -n1 "$stamp")" != "${sum%%$'\n'*}" || "${1:-}" == "--force" ]]; then
  rm -rf target/lib
fi
rm -f "$stamp"
"${mvn_cmd[@]}" -q -B -Dstyle.color=never package 2>&1 | sed "s/\x1b\[[0-9;]*m//g" >&2
printf '%s\n' "$sum" >"$stamp"
echo "build.sh: built $here/target/launcher.jar" >&2
