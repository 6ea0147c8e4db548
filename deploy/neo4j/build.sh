#!/usr/bin/env bash
# Build the embedded Neo4j launcher into deploy/neo4j/target/:
#   target/launcher.jar  (Main-Class + Class-Path: lib/*.jar in its manifest)
#   target/lib/*.jar     (org.neo4j:neo4j and its runtime dependencies)
# Idempotent: does nothing when the build is newer than pom.xml, src/ and this script.
# Safe to call concurrently (flock). Uses the default Maven local repository (~/.m2) as cache.
# Env: MVN (maven command line, default "mvn"); pass --force to rebuild unconditionally.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
stamp="target/.build-stamp"

up_to_date() {
  [[ -f "$stamp" && -f target/launcher.jar && -d target/lib ]] &&
    [[ -z "$(find pom.xml src build.sh -newer "$stamp" -print -quit)" ]]
}

[[ "${1:-}" != "--force" ]] && up_to_date && exit 0

mkdir -p target
exec 9>target/.build.lock
flock 9
[[ "${1:-}" != "--force" ]] && up_to_date && exit 0   # another caller built it meanwhile

mvn_cmd=(${MVN:-mvn})
command -v "${mvn_cmd[0]}" >/dev/null || { echo "build.sh: maven (mvn) not found" >&2; exit 1; }
echo "build.sh: building Neo4j launcher (first run downloads ~170 MB into ~/.m2)..." >&2
# No "mvn clean": running servers keep using target/lib. Drop lib/ only when the dependency set may change.
if [[ ! -f "$stamp" || pom.xml -nt "$stamp" || "${1:-}" == "--force" ]]; then rm -rf target/lib; fi
rm -f "$stamp"
"${mvn_cmd[@]}" -q -B -Dstyle.color=never package 2>&1 | sed "s/\x1b\[[0-9;]*m//g" >&2
touch "$stamp"
echo "build.sh: built $here/target/launcher.jar" >&2
