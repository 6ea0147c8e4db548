#!/usr/bin/env bash
# Usage: CADENZA_NEO4J_PASSWORD=PASSWORD run.sh HOME PORT [LAUNCHER FLAGS...]
#        run.sh HOME PORT - [LAUNCHER FLAGS...]      ("-" = auth disabled)
# Execs an embedded Neo4j 5.26 Community server: Bolt on bolt://127.0.0.1:PORT, user neo4j/PASSWORD,
# data + logs + transaction logs under HOME. Prints "NEO4J READY bolt://127.0.0.1:PORT" on stdout
# when ready; stops cleanly on SIGTERM. Builds the launcher first if needed (see build.sh).
# The password is read from the environment (only its owner can read /proc/PID/environ), never
# from the command line, which every local user sees in ps and /proc/PID/cmdline.
# Env: CADENZA_NEO4J_PASSWORD (required unless "-"), NEO4J_HEAP_OPTS (default "-Xms256m -Xmx1g"),
#      NEO4J_JAVA_OPTS (extra JVM flags), JAVA (java binary), NEO4J_SKIP_BUILD=1 to skip the build check.
set -euo pipefail
usage="usage: CADENZA_NEO4J_PASSWORD=PASSWORD $0 HOME PORT [FLAGS...]   or   $0 HOME PORT - [FLAGS...] (no auth)"
if [[ $# -lt 2 ]]; then
  echo "$usage" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
home="$1"; port="$2"; shift 2

if [[ "${1:-}" == "-" ]]; then
  shift
  auth=(--no-auth)
elif [[ $# -gt 0 && "$1" != --* ]]; then
  # The old "run.sh HOME PORT PASSWORD" form; not echoed, since it is most likely a password.
  echo "run.sh: the password is no longer taken as an argument: set CADENZA_NEO4J_PASSWORD instead" >&2
  echo "$usage" >&2
  exit 2
elif [[ -z "${CADENZA_NEO4J_PASSWORD:-}" ]]; then
  echo "run.sh: CADENZA_NEO4J_PASSWORD is unset or empty (pass '-' as third argument to disable auth)" >&2
  echo "$usage" >&2
  exit 2
else
  auth=()   # the launcher reads CADENZA_NEO4J_PASSWORD itself
fi
[[ "${NEO4J_SKIP_BUILD:-0}" == 1 ]] || "$here/build.sh" >&2

# JVM flags mirror what bin/neo4j passes on Java 17 (netty / page cache reflection access).
exec "${JAVA:-java}" \
  ${NEO4J_HEAP_OPTS:--Xms256m -Xmx1g} \
  -XX:+UseG1GC -XX:-OmitStackTraceInFastThrow -XX:+DisableExplicitGC -XX:+ExitOnOutOfMemoryError \
  -XX:+UnlockExperimentalVMOptions -XX:+TrustFinalNonStaticFields \
  -Djdk.nio.maxCachedBufferSize=1024 -Dio.netty.tryReflectionSetAccessible=true \
  --add-opens=java.base/java.nio=ALL-UNNAMED \
  --add-opens=java.base/java.io=ALL-UNNAMED \
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
  --add-opens=java.base/java.lang=ALL-UNNAMED \
  --add-opens=java.base/java.util.concurrent=ALL-UNNAMED \
  --enable-native-access=ALL-UNNAMED \
  ${NEO4J_JAVA_OPTS:-} \
  -jar "$here/target/launcher.jar" \
  --home "$home" --bolt-port "$port" "${auth[@]}" "$@"
