#!/usr/bin/env bash
# Usage: run.sh HOME PORT PASSWORD      (PASSWORD "-" = auth disabled)
# Execs an embedded Neo4j 5.26 Community server: Bolt on bolt://127.0.0.1:PORT, user neo4j/PASSWORD,
# data + logs + transaction logs under HOME. Prints "NEO4J READY bolt://127.0.0.1:PORT" on stdout
# when ready; stops cleanly on SIGTERM. Builds the launcher first if needed (see build.sh).
# Env: NEO4J_HEAP_OPTS (default "-Xms256m -Xmx1g"), NEO4J_JAVA_OPTS (extra JVM flags),
#      JAVA (java binary), NEO4J_SKIP_BUILD=1 to skip the build check.
set -euo pipefail
if [[ $# -lt 3 ]]; then
  echo "usage: $0 HOME PORT PASSWORD   (PASSWORD '-' disables auth)" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
home="$1"; port="$2"; password="$3"; shift 3
[[ "${NEO4J_SKIP_BUILD:-0}" == 1 ]] || "$here/build.sh" >&2

if [[ "$password" == "-" ]]; then auth=(--no-auth); else auth=(--password "$password"); fi

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
