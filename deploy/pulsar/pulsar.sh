#!/usr/bin/env bash
# shellcheck disable=SC2034  # C1_*/C2_* are read indirectly by cluster_field
# Agent Mesh — local Apache Pulsar standalone broker(s), resolved from Maven Central.
#
#   bash deploy/pulsar/pulsar.sh up [--clusters 1|2] [--wipe] [--auth] [--tls]
#   bash deploy/pulsar/pulsar.sh token <role> [--expiry 30d]   # issue a token (needs --auth's secret key)
#   bash deploy/pulsar/pulsar.sh down [cluster…]       # default: every cluster
#   bash deploy/pulsar/pulsar.sh status
#   bash deploy/pulsar/pulsar.sh logs [cluster]     # tail -f of the broker log
#   bash deploy/pulsar/pulsar.sh schemas            # (re)register the contracts' schemas
#   bash deploy/pulsar/pulsar.sh geo                # join the two clusters (geo-replication; up --clusters 2 does it)
#
# See deploy/pulsar/README.md for ports, environment overrides and troubleshooting.
set -euo pipefail

PULSAR_HOME_DIR="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# ---------------------------------------------------------------- settings
PULSAR_VERSION="${PULSAR_VERSION:-4.2.4}"          # keep in sync with pom.xml <pulsar.version>
PULSAR_MIN_JAVA="${PULSAR_MIN_JAVA:-17}"           # 4.2.x bytecode is Java 17; upstream runs 4.x on 21
PULSAR_PREFERRED_JAVA="${PULSAR_PREFERRED_JAVA:-21}"
LIB_DIR="${PULSAR_LIB_DIR:-$PULSAR_HOME_DIR/lib}"
DATA_ROOT="${PULSAR_DATA_DIR:-$PULSAR_HOME_DIR/data}"
CONF_TEMPLATE="${PULSAR_STANDALONE_CONF:-$PULSAR_HOME_DIR/conf/standalone.conf}"
LOG_CONF="${PULSAR_LOG_CONF:-$PULSAR_HOME_DIR/conf/log4j2.xml}"
START_TIMEOUT="${PULSAR_START_TIMEOUT:-180}"        # seconds, per cluster
STOP_TIMEOUT="${PULSAR_STOP_TIMEOUT:-30}"           # seconds before SIGKILL
PULSAR_MEM="${PULSAR_MEM:--Xms256m -Xmx${PULSAR_HEAP:-512m} -XX:MaxDirectMemorySize=${PULSAR_DIRECT_MEM:-384m}}"
PULSAR_GC="${PULSAR_GC:--XX:+UseG1GC -XX:MaxGCPauseMillis=50 -XX:+ParallelRefProcEnabled -XX:+DisableExplicitGC}"
PULSAR_EXTRA_OPTS="${PULSAR_EXTRA_OPTS:-}"
PULSAR_LOG_LEVEL="${PULSAR_LOG_LEVEL:-info}"
ADVERTISED_ADDRESS="${PULSAR_ADVERTISED_ADDRESS:-127.0.0.1}"
BIND_ADDRESS="${PULSAR_BIND_ADDRESS:-127.0.0.1}"

TENANT="${PULSAR_TENANT:-agentmesh}"
NAMESPACE="${PULSAR_NAMESPACE:-mesh}"
RETENTION_MINUTES="${PULSAR_RETENTION_MINUTES:--1}"  # -1 = keep forever (replayable event log)
RETENTION_SIZE_MB="${PULSAR_RETENTION_SIZE_MB:--1}"
DEDUPLICATION="${PULSAR_DEDUPLICATION:-true}"
SCHEMAS="${PULSAR_SCHEMAS:-true}"                    # register the contracts' schemas on up
GEO="${PULSAR_GEO:-true}"                            # up --clusters 2: join the two (mesh geo bootstrap)

# cluster 1 / cluster 2: name, broker port, web port, bookie port (read via cluster_field)
C1_NAME="${PULSAR_CLUSTER_NAME:-us-east}"
C1_BROKER="${PULSAR_BROKER_PORT:-6650}"
C1_WEB="${PULSAR_WEB_PORT:-8080}"
C1_BOOKIE="${PULSAR_BOOKIE_PORT:-3181}"
C2_NAME="${PULSAR2_CLUSTER_NAME:-eu-west}"
C2_BROKER="${PULSAR2_BROKER_PORT:-6660}"
C2_WEB="${PULSAR2_WEB_PORT:-8090}"
C2_BOOKIE="${PULSAR2_BOOKIE_PORT:-3191}"
# TLS ports (up --tls), beside the plain ones
C1_BROKER_TLS="${PULSAR_BROKER_TLS_PORT:-6651}"
C1_WEB_TLS="${PULSAR_WEB_TLS_PORT:-8443}"
C2_BROKER_TLS="${PULSAR2_BROKER_TLS_PORT:-6661}"
C2_WEB_TLS="${PULSAR2_WEB_TLS_PORT:-8453}"

# Security (up --auth / --tls): secret key, tokens, CA and server certificate, shared by both
# clusters (one secret key: a token is valid on either).
AUTH_DIR="${PULSAR_AUTH_DIR:-$DATA_ROOT/auth}"
TLS_DIR="${PULSAR_TLS_DIR:-$DATA_ROOT/tls}"
ADMIN_ROLE="${PULSAR_ADMIN_ROLE:-admin}"     # superuser: the broker's own client, provisioning
MESH_ROLE="${PULSAR_MESH_ROLE:-mesh}"        # the agents: produce + consume on the namespace
TOKEN_EXPIRY="${PULSAR_TOKEN_EXPIRY:-}"      # e.g. 30d; empty = tokens do not expire
AUTH=0
TLS=0

MAIN_CLASS=org.apache.pulsar.PulsarStandaloneStarter

# ---------------------------------------------------------------- helpers
log()  { printf '[pulsar] %s\n' "$*"; }
warn() { printf '[pulsar] WARN: %s\n' "$*" >&2; }
die()  { printf '[pulsar] ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '3,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# cluster_field <index 1|2> <name|broker|web|bookie|broker_tls|web_tls>
cluster_field() {
  local v="C$1_"
  case "$2" in
    name) v+=NAME ;; broker) v+=BROKER ;; web) v+=WEB ;; bookie) v+=BOOKIE ;;
    broker_tls) v+=BROKER_TLS ;; web_tls) v+=WEB_TLS ;;
  esac
  printf '%s' "${!v}"
}

cluster_dir() { printf '%s/%s' "$DATA_ROOT" "$1"; }
pid_file()    { printf '%s/pulsar.pid' "$(cluster_dir "$1")"; }
log_file()    { printf '%s/logs/pulsar-standalone.log' "$(cluster_dir "$1")"; }
out_file()    { printf '%s/logs/pulsar-standalone.out' "$(cluster_dir "$1")"; }

# pid of a running standalone for cluster $1, or empty
running_pid() {
  local pf pid
  pf="$(pid_file "$1")"
  [[ -f "$pf" ]] || return 0
  pid="$(tr -dc '0-9' <"$pf")"
  [[ -n "$pid" ]] || return 0
  if kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$MAIN_CLASS"; then
    printf '%s' "$pid"
  fi
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# curl options that authenticate as the admin role when the broker was started with --auth
# (the token is read by curl from a header file, never put on a command line)
admin_auth() {
  if [[ "$AUTH" == 1 ]]; then printf '%s\n' -H "@$AUTH_DIR/admin.header"; fi
}

health_ok() {
  local body
  local -a auth
  mapfile -t auth < <(admin_auth)
  body="$(curl -s -m 5 "${auth[@]}" "http://127.0.0.1:$1/admin/v2/brokers/health" 2>/dev/null || true)"
  [[ "$body" == "ok" ]]
}

java_major() {
  local v
  v="$("$1/bin/java" -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')"
  v="${v#1.}"
  printf '%s' "${v%%[.+-]*}"
}

# Picks JAVA_HOME: $PULSAR_JAVA_HOME, else the newest JDK >= 21 under /usr/lib/jvm (Temurin 25
# on this machine), else $JAVA_HOME / the default java if >= PULSAR_MIN_JAVA.
pick_java() {
  if [[ -n "${PULSAR_JAVA_HOME:-}" ]]; then
    [[ -x "$PULSAR_JAVA_HOME/bin/java" ]] || die "PULSAR_JAVA_HOME=$PULSAR_JAVA_HOME has no bin/java"
    JAVA_HOME_SEL="$PULSAR_JAVA_HOME"
  else
    local best="" best_major=0 d m
    for d in /usr/lib/jvm/* "${JAVA_HOME:-}"; do
      [[ -n "$d" && -x "$d/bin/java" && ! -L "$d" ]] || continue
      m="$(java_major "$d")"
      [[ "$m" =~ ^[0-9]+$ ]] || continue
      if (( m > best_major )); then best="$d"; best_major="$m"; fi
    done
    if [[ -z "$best" ]] && command -v java >/dev/null; then
      best="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
    fi
    [[ -n "$best" ]] || die "no JDK found (install JDK 21+ or set PULSAR_JAVA_HOME)"
    JAVA_HOME_SEL="$best"
  fi
  JAVA_MAJOR="$(java_major "$JAVA_HOME_SEL")"
  (( JAVA_MAJOR >= PULSAR_MIN_JAVA )) || die "Pulsar $PULSAR_VERSION needs Java >= $PULSAR_MIN_JAVA, $JAVA_HOME_SEL is $JAVA_MAJOR"
  if (( JAVA_MAJOR < PULSAR_PREFERRED_JAVA )); then
    warn "using Java $JAVA_MAJOR ($JAVA_HOME_SEL); Pulsar 4.x is meant to run on Java 21+"
  fi
}

lib_stamp() {
  printf '%s %s' "$PULSAR_VERSION" "$(sha1sum "$PULSAR_HOME_DIR/pom.xml" | cut -d' ' -f1)"
}

# Resolve the broker classpath from Maven Central into lib/ when missing or stale.
ensure_lib() {
  local stamp_file="$LIB_DIR/.stamp" want
  want="$(lib_stamp)"
  if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$want" ]] \
     && compgen -G "$LIB_DIR/org.apache.pulsar.pulsar-broker-$PULSAR_VERSION.jar" >/dev/null; then
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (needed once to fetch Pulsar from Maven Central)"
  log "resolving Pulsar $PULSAR_VERSION from Maven Central into $LIB_DIR (first run downloads ~250 MB to ~/.m2) ..."
  rm -rf "$LIB_DIR"
  mkdir -p "$LIB_DIR"
  local mvn_log
  mvn_log="$(mktemp)"
  if ! mvn -q -B -f "$PULSAR_HOME_DIR/pom.xml" -Dpulsar.version="$PULSAR_VERSION" \
        -Dpulsar.lib.dir="$LIB_DIR" dependency:copy-dependencies >"$mvn_log" 2>&1; then
    cat "$mvn_log" >&2
    rm -rf "$LIB_DIR" "$mvn_log"
    die "maven could not resolve Pulsar $PULSAR_VERSION (output above)"
  fi
  rm -f "$mvn_log"
  printf '%s' "$want" >"$stamp_file"
  log "lib ready: $(find "$LIB_DIR" -name '*.jar' | wc -l) jars, $(du -sh "$LIB_DIR" | cut -f1)"
}

# write data/<cluster>/conf/standalone.conf from the template + per-cluster overrides
render_conf() {
  local name="$1" broker="$2" web="$3" out="$4"
  local -A over=()
  # PULSAR_PREFIX_<key>=<value> overrides any key (Docker image convention) ...
  local var key
  while IFS= read -r var; do
    key="${var#PULSAR_PREFIX_}"
    over[$key]="${!var}"
  done < <(compgen -e | grep '^PULSAR_PREFIX_' || true)
  # ... except the per-cluster keys, which come from the cluster settings
  over[clusterName]="$name"
  over[brokerServicePort]="$broker"
  over[webServicePort]="$web"
  over[advertisedAddress]="$ADVERTISED_ADDRESS"
  over[bindAddress]="$BIND_ADDRESS"
  if [[ "$AUTH" == 1 ]]; then
    # Token authentication + authorization. The embedded WebSocket service copies these from
    # the broker's configuration (WebSocketService(ClusterData, ServiceConfiguration)), so the
    # WebSocket API checks the same tokens and permissions.
    over[authenticationEnabled]=true
    over[authorizationEnabled]=true
    over[authenticationProviders]=org.apache.pulsar.broker.authentication.AuthenticationProviderToken
    over[tokenSecretKey]="file://$AUTH_DIR/secret.key"
    over[superUserRoles]="$ADMIN_ROLE"
    # the broker's internal client (standalone set-up, WebSocket proxy to broker) authenticates as the admin role
    over[brokerClientAuthenticationPlugin]=org.apache.pulsar.client.impl.auth.AuthenticationToken
    over[brokerClientAuthenticationParameters]="file://$AUTH_DIR/admin.token"
  fi
  if [[ "$TLS" == 1 ]]; then
    over[brokerServicePortTls]="$5"
    over[webServicePortTls]="$6"
    over[tlsCertificateFilePath]="$TLS_DIR/server.crt"
    over[tlsKeyFilePath]="$TLS_DIR/server.key"
    over[tlsTrustCertsFilePath]="$TLS_DIR/ca.crt"
  fi

  local tmp="$out.tmp" line k
  local -A seen=()
  : >"$tmp"
  while IFS= read -r line || [[ -n "$line" ]]; do
    if [[ "$line" =~ ^([A-Za-z0-9_.]+)= ]]; then
      k="${BASH_REMATCH[1]}"
      if [[ -v "over[$k]" ]]; then
        line="$k=${over[$k]}"
        seen[$k]=1
      fi
    fi
    printf '%s\n' "$line" >>"$tmp"
  done <"$CONF_TEMPLATE"
  for k in "${!over[@]}"; do
    [[ -v "seen[$k]" ]] || printf '%s=%s\n' "$k" "${over[$k]}" >>"$tmp"
  done
  mv "$tmp" "$out"
}

print_failure() {
  local name="$1" lf of
  lf="$(log_file "$name")"; of="$(out_file "$name")"
  printf '\n[pulsar] ---- last 80 lines of %s ----\n' "$lf" >&2
  tail -n 80 "$lf" >&2 2>/dev/null || printf '(no log file)\n' >&2
  if [[ -s "$of" ]]; then
    printf '[pulsar] ---- last 20 lines of JVM stdout/stderr %s ----\n' "$of" >&2
    tail -n 20 "$of" >&2
  fi
  printf '[pulsar] broker log: %s\n' "$lf" >&2
}

start_cluster() {
  local idx="$1" name broker web bookie dir pid
  name="$(cluster_field "$idx" name)"; broker="$(cluster_field "$idx" broker)"
  web="$(cluster_field "$idx" web)";   bookie="$(cluster_field "$idx" bookie)"
  dir="$(cluster_dir "$name")"

  pid="$(running_pid "$name")"
  if [[ -n "$pid" ]]; then
    log "$name already running (pid $pid, web :$web)"
    return 0
  fi
  local p
  if port_in_use "$web" && health_ok "$web"; then
    # A broker this checkout did not start (another clone, a developer's own): use it.
    log "$name: a healthy Pulsar broker already answers on :$web; using it (this script will not stop it)"
    return 0
  fi
  local -a ports=("$broker" "$web" "$bookie")
  [[ "$TLS" == 1 ]] && ports+=("$(cluster_field "$idx" broker_tls)" "$(cluster_field "$idx" web_tls)")
  for p in "${ports[@]}"; do
    if port_in_use "$p"; then
      die "port $p (cluster $name) is already in use by another process; free it or override PULSAR*_BROKER_PORT / PULSAR*_WEB_PORT / PULSAR*_BOOKIE_PORT (/ PULSAR*_BROKER_TLS_PORT / PULSAR*_WEB_TLS_PORT)"
    fi
  done

  mkdir -p "$dir/conf" "$dir/logs" "$dir/tmp"
  render_conf "$name" "$broker" "$web" "$dir/conf/standalone.conf" \
    "$(cluster_field "$idx" broker_tls)" "$(cluster_field "$idx" web_tls)"

  local -a opts=()
  # shellcheck disable=SC2206
  opts+=($PULSAR_MEM $PULSAR_GC)
  opts+=(-cp "$LIB_DIR/*"
    -Dagentmesh.pulsar.cluster="$name"
    -Dlog4j2.configurationFile="$LOG_CONF"
    -Dlog4j.shutdownHookEnabled=false
    -Dlog4j2.is.webapp=false
    -Djava.util.logging.manager=org.apache.logging.log4j.jul.LogManager
    -Dpulsar.log.dir="$dir/logs"
    -Dpulsar.log.file=pulsar-standalone.log
    -Dpulsar.log.level="$PULSAR_LOG_LEVEL"
    -Djava.io.tmpdir="$dir/tmp"
    -Djute.maxbuffer=10485760
    -Djava.net.preferIPv4Stack=true
    -Dio.netty.tryReflectionSetAccessible=true
    -Dzookeeper.4lw.commands.whitelist=*
    -Dzookeeper.snapshot.trust.empty=true
    -Dbookkeeper.metadata.bookie.drivers=org.apache.pulsar.metadata.bookkeeper.PulsarMetadataBookieDriver
    -Dbookkeeper.metadata.client.drivers=org.apache.pulsar.metadata.bookkeeper.PulsarMetadataClientDriver
    --add-opens java.base/java.io=ALL-UNNAMED
    --add-opens java.base/java.util.zip=ALL-UNNAMED
    --add-opens java.base/java.nio=ALL-UNNAMED
    --add-opens java.base/jdk.internal.misc=ALL-UNNAMED
    --add-opens java.base/sun.net=ALL-UNNAMED
    --add-opens java.management/sun.management=ALL-UNNAMED
    --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED)
  (( JAVA_MAJOR >= 22 )) && opts+=(--enable-native-access=ALL-UNNAMED)
  (( JAVA_MAJOR >= 24 )) && opts+=(--sun-misc-unsafe-memory-access=allow)
  # shellcheck disable=SC2206
  [[ -n "$PULSAR_EXTRA_OPTS" ]] && opts+=($PULSAR_EXTRA_OPTS)

  local -a args=(--config "$dir/conf/standalone.conf"
    --metadata-dir "$dir/metadata"
    --bookkeeper-dir "$dir/bookkeeper"
    --bookkeeper-port "$bookie"
    --advertised-address "$ADVERTISED_ADDRESS"
    --no-functions-worker --no-stream-storage)
  [[ "${WIPE:-0}" == 1 ]] && args+=(--wipe-data)

  log "starting $name (Pulsar $PULSAR_VERSION, Java $JAVA_MAJOR) broker :$broker web :$web bookie :$bookie data $dir"
  (
    cd "$dir"
    exec setsid "$JAVA_HOME_SEL/bin/java" "${opts[@]}" "$MAIN_CLASS" "${args[@]}" \
      </dev/null >"$(out_file "$name")" 2>&1
  ) &
  pid=$!
  printf '%s\n' "$pid" >"$(pid_file "$name")"
}

wait_healthy() {
  local idx="$1" name web pid start now
  name="$(cluster_field "$idx" name)"; web="$(cluster_field "$idx" web)"
  start=$(date +%s)
  while :; do
    pid="$(running_pid "$name")"
    # Just started, the process may not have exec'd java yet (its command line is still the shell's).
    if [[ -z "$pid" ]] && (( $(date +%s) - start < 5 )) && kill -0 "$(tr -dc '0-9' <"$(pid_file "$name")" 2>/dev/null)" 2>/dev/null; then
      sleep 1
      continue
    fi
    if [[ -z "$pid" ]]; then
      if health_ok "$web"; then
        log "$name: using the broker already answering on :$web (not started here)"
        return 0
      fi
      print_failure "$name"
      die "$name: broker process exited during startup"
    fi
    if health_ok "$web"; then
      now=$(date +%s)
      log "$name healthy after $((now - start))s (pid $pid, http://127.0.0.1:$web, pulsar://127.0.0.1:$(cluster_field "$idx" broker))"
      [[ "$TLS" == 1 ]] && log "$name TLS: https://127.0.0.1:$(cluster_field "$idx" web_tls), wss://127.0.0.1:$(cluster_field "$idx" web_tls)/ws/v2/, pulsar+ssl://127.0.0.1:$(cluster_field "$idx" broker_tls) (CA $TLS_DIR/ca.crt)"
      return 0
    fi
    now=$(date +%s)
    if (( now - start >= START_TIMEOUT )); then
      print_failure "$name"
      die "$name: not healthy after ${START_TIMEOUT}s (process $pid left running; 'pulsar.sh down' stops it)"
    fi
    sleep 1
  done
}

# admin <web port> <METHOD> <path> [json body]  -> prints HTTP status, body to $ADMIN_BODY
admin() {
  local web="$1" method="$2" path="$3" body="${4:-}"
  local -a a=(-s -m 30 -o "$ADMIN_TMP" -w '%{http_code}' -X "$method" "http://127.0.0.1:$web/admin/v2$path") auth
  mapfile -t auth < <(admin_auth)
  a+=("${auth[@]}")
  [[ -n "$body" ]] && a+=(-H 'Content-Type: application/json' --data "$body")
  curl "${a[@]}" || true   # on connection failure curl itself prints 000
}

admin_expect() {
  local what="$1" code="$2"; shift 2
  local ok
  for ok in "$@"; do [[ "$code" == "$ok" ]] && return 0; done
  printf '[pulsar] admin call failed: %s -> HTTP %s: %s\n' "$what" "$code" "$(cat "$ADMIN_TMP" 2>/dev/null)" >&2
  return 1
}

provision() {
  local idx="$1" name web code ns="$TENANT/$NAMESPACE"
  name="$(cluster_field "$idx" name)"; web="$(cluster_field "$idx" web)"
  local tenant_json="{\"adminRoles\":[],\"allowedClusters\":[\"$name\"]}"

  code="$(admin "$web" PUT "/tenants/$TENANT" "$tenant_json")"
  if [[ "$code" == 409 ]]; then
    # The tenant exists: add this cluster to its allowed clusters, keeping the others (the geo
    # bootstrap allowed the peer region; a restart must not take that back).
    code="$(admin "$web" GET "/tenants/$TENANT")"
    admin_expect "tenant $TENANT" "$code" 200 || return 1
    local allowed
    allowed="$(sed -n 's/.*"allowedClusters":\[\([^]]*\)\].*/\1/p' "$ADMIN_TMP")"
    if [[ "$allowed" != *"\"$name\""* ]]; then
      tenant_json="{\"adminRoles\":[],\"allowedClusters\":[${allowed:+$allowed,}\"$name\"]}"
      code="$(admin "$web" POST "/tenants/$TENANT" "$tenant_json")"
    fi
  fi
  admin_expect "tenant $TENANT" "$code" 200 204 || return 1

  code="$(admin "$web" PUT "/namespaces/$ns")"
  admin_expect "namespace $ns" "$code" 200 204 409 || return 1

  code="$(admin "$web" POST "/namespaces/$ns/retention" \
    "{\"retentionTimeInMinutes\":$RETENTION_MINUTES,\"retentionSizeInMB\":$RETENTION_SIZE_MB}")"
  admin_expect "retention $ns" "$code" 200 204 || return 1

  if [[ "$DEDUPLICATION" == true ]]; then
    code="$(admin "$web" POST "/namespaces/$ns/deduplication" true)"
    admin_expect "deduplication $ns" "$code" 200 204 || return 1
  fi
  log "$name: tenant $TENANT (allowed in $name), namespace $ns (retention ${RETENTION_MINUTES}min/${RETENTION_SIZE_MB}MB, deduplication=$DEDUPLICATION)"

  if [[ "$AUTH" == 1 ]]; then
    # The agents' role: produce + consume on the namespace (publish, subscribe, readers, the
    # lastMessageId a reader asks for). Namespace policies, schemas and tenants stay with the admin role.
    code="$(admin "$web" POST "/namespaces/$ns/permissions/$MESH_ROLE" '["produce","consume"]')"
    admin_expect "permissions of $MESH_ROLE on $ns" "$code" 200 204 || return 1
    log "$name: role $MESH_ROLE may produce and consume on $ns"
  fi
}

# register_schemas <web port>: the contracts' schemas on the namespace's topics, the namespace's
# compatibility strategy BACKWARD (tools/register-schemas.ts). Registering never stops the
# agents' clients, which send no schema (schemaValidationEnforced stays false). Needs node and the
# repository's node_modules; without them it warns and skips.
register_schemas() {
  local web="$1" repo
  repo="$(cd -P "$PULSAR_HOME_DIR/../.." && pwd)"
  if ! command -v node >/dev/null || [[ ! -d "$repo/node_modules/@swc-node/register" ]]; then
    warn "schemas not registered: node or $repo/node_modules missing (npm ci, then: bash deploy/pulsar/pulsar.sh schemas)"
    return 0
  fi
  local token_file=""
  [[ "$AUTH" == 1 ]] && token_file="$AUTH_DIR/admin.token"
  (cd "$repo" && PULSAR_TOKEN="" PULSAR_TOKEN_FILE="$token_file" node -r @swc-node/register tools/register-schemas.ts \
    --web-url "http://127.0.0.1:$web" --tenant "$TENANT" --namespace "$NAMESPACE") | sed 's/^/[pulsar] /'
}

# tokens_cli <args...>: Pulsar's own token tool (what `bin/pulsar tokens` runs)
tokens_cli() {
  "$JAVA_HOME_SEL/bin/java" -cp "$LIB_DIR/*" -Dlog4j2.configurationFile="$LOG_CONF" \
    org.apache.pulsar.utils.auth.tokens.TokensCliUtils "$@"
}

# issue_token <role>: signs a token for <role> with the secret key into $AUTH_DIR/<role>.token (0600)
issue_token() {
  local role="$1" out="$AUTH_DIR/$1.token" token
  local -a expiry=()
  [[ -n "$TOKEN_EXPIRY" ]] && expiry=(--expiry-time "$TOKEN_EXPIRY")
  [[ "$role" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]] || die "role must be letters, digits, _ . or - (got '$role')"
  token="$(tokens_cli create --secret-key "file://$AUTH_DIR/secret.key" --subject "$role" "${expiry[@]}")" ||
    die "could not create a token for $role"
  (umask 077 && printf '%s\n' "$token" >"$out.tmp") && mv "$out.tmp" "$out"
  if [[ "$role" == "$ADMIN_ROLE" ]]; then
    (umask 077 && printf 'Authorization: Bearer %s\n' "$token" >"$AUTH_DIR/admin.header")
  fi
  log "token for role $role: $out"
}

# ensure_auth: the secret key and the admin and mesh tokens, made once and kept (delete
# $AUTH_DIR to start over; see README "Rotation")
ensure_auth() {
  mkdir -p "$AUTH_DIR" && chmod 700 "$AUTH_DIR"
  if [[ ! -s "$AUTH_DIR/secret.key" ]]; then
    (umask 077 && tokens_cli create-secret-key --output "$AUTH_DIR/secret.key" >/dev/null) ||
      die "could not create the secret key"
    rm -f "$AUTH_DIR"/*.token "$AUTH_DIR/admin.header"   # signed with another key
    log "secret key: $AUTH_DIR/secret.key"
  fi
  chmod 600 "$AUTH_DIR/secret.key"
  local role
  for role in "$ADMIN_ROLE" "$MESH_ROLE"; do
    [[ -s "$AUTH_DIR/$role.token" ]] || issue_token "$role"
  done
  [[ -s "$AUTH_DIR/admin.header" ]] || issue_token "$ADMIN_ROLE"
  log "auth: superuser $ADMIN_ROLE ($AUTH_DIR/$ADMIN_ROLE.token), agents $MESH_ROLE ($AUTH_DIR/$MESH_ROLE.token)"
}

# ensure_tls: a CA and a server certificate for 127.0.0.1/localhost (and the advertised
# address), made once with openssl and kept
ensure_tls() {
  command -v openssl >/dev/null || die "openssl is required for --tls"
  mkdir -p "$TLS_DIR" && chmod 700 "$TLS_DIR"
  if [[ ! -s "$TLS_DIR/ca.crt" || ! -s "$TLS_DIR/ca.key" ]]; then
    (umask 077 && openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Agent Mesh dev CA" \
      -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.crt" 2>/dev/null) || die "openssl: CA certificate failed"
    rm -f "$TLS_DIR/server.crt"
  fi
  if [[ ! -s "$TLS_DIR/server.crt" || ! -s "$TLS_DIR/server.key" ]]; then
    local san="IP:127.0.0.1,DNS:localhost"
    [[ "$ADVERTISED_ADDRESS" =~ ^[0-9.]+$ ]] && san+=",IP:$ADVERTISED_ADDRESS" || san+=",DNS:$ADVERTISED_ADDRESS"
    # PKCS#8 key: what the broker's TLS (Netty/Jetty) reads
    (umask 077 && openssl req -newkey rsa:2048 -nodes -subj "/CN=$ADVERTISED_ADDRESS" \
      -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" 2>/dev/null &&
      openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" \
        -CAcreateserial -days 825 -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san") \
        -out "$TLS_DIR/server.crt" 2>/dev/null) || die "openssl: server certificate failed"
    rm -f "$TLS_DIR/server.csr"
    chmod 644 "$TLS_DIR/ca.crt" "$TLS_DIR/server.crt"   # certificates are public; the keys stay 0600
  fi
  log "tls: CA $TLS_DIR/ca.crt, server certificate $TLS_DIR/server.crt"
}

# geo_bootstrap: joins cluster 1 and cluster 2 into one geo-replicated set — registers each with
# the other, allows the tenant on both, replicates the namespace (`mesh geo bootstrap`,
# libs/pulsar-admin; idempotent). Needs node and the repository's node_modules, as schemas do.
geo_bootstrap() {
  local repo
  repo="$(cd -P "$PULSAR_HOME_DIR/../.." && pwd)"
  if ! command -v node >/dev/null || [[ ! -d "$repo/node_modules/@swc-node/register" ]]; then
    warn "geo-replication not set up: node or $repo/node_modules missing (npm ci, then: bash deploy/pulsar/pulsar.sh geo)"
    return 0
  fi
  (cd "$repo" && env MESH_TRANSPORT=pulsar PULSAR_SERVICE_URL= PULSAR_TENANT="$TENANT" PULSAR_NAMESPACE="$NAMESPACE" \
    PULSAR_WEB_URL="http://127.0.0.1:$(cluster_field 1 web)" \
    MESH_GEO_PEER_WEB_URLS="http://127.0.0.1:$(cluster_field 2 web)" \
    node -r @swc-node/register apps/cli/src/main.ts geo bootstrap) | sed 's/^/[pulsar] geo: /'
}

stop_pid() {
  local name="$1" pid="$2" i
  log "stopping $name (pid $pid) ..."
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT; i++)); do
    kill -0 "$pid" 2>/dev/null || { log "$name stopped"; return 0; }
    sleep 1
  done
  warn "$name did not stop within ${STOP_TIMEOUT}s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 1
}

known_clusters() {
  # configured cluster names + any data dir that has a pid file
  { printf '%s\n%s\n' "$C1_NAME" "$C2_NAME"
    if [[ -d "$DATA_ROOT" ]]; then
      find "$DATA_ROOT" -mindepth 2 -maxdepth 2 -name pulsar.pid -printf '%h\n' 2>/dev/null | xargs -r -n1 basename
    fi
  } | awk 'NF && !seen[$0]++'
}

# ---------------------------------------------------------------- commands
cmd_up() {
  local clusters=1
  WIPE=0
  while (($#)); do
    case "$1" in
      --clusters) clusters="${2:-}"; shift 2 ;;
      --clusters=*) clusters="${1#*=}"; shift ;;
      --wipe) WIPE=1; shift ;;
      --auth) AUTH=1; shift ;;
      --tls) TLS=1; shift ;;
      -h|--help) usage; exit 0 ;;
      *) die "unknown option for up: $1" ;;
    esac
  done
  [[ "$clusters" == 1 || "$clusters" == 2 ]] || die "--clusters must be 1 or 2"
  command -v curl >/dev/null || die "curl is required"

  local t0 i
  t0=$(date +%s)
  ADMIN_TMP="$(mktemp)"
  # shellcheck disable=SC2064
  trap "rm -f '$ADMIN_TMP'" EXIT
  ensure_lib
  pick_java
  mkdir -p "$DATA_ROOT"
  [[ "$AUTH" == 1 ]] && ensure_auth
  [[ "$TLS" == 1 ]] && ensure_tls
  for ((i = 1; i <= clusters; i++)); do start_cluster "$i"; done
  for ((i = 1; i <= clusters; i++)); do wait_healthy "$i"; done
  for ((i = 1; i <= clusters; i++)); do
    # A broker that has just become healthy can still answer a metadata write with 500
    # (BadVersionException); provisioning is idempotent, so try it again before giving up.
    provision "$i" || { sleep 2; provision "$i"; } || { sleep 5; provision "$i"; } ||
      { print_failure "$(cluster_field "$i" name)"; die "provisioning failed"; }
  done
  if [[ "$SCHEMAS" == true ]]; then
    for ((i = 1; i <= clusters; i++)); do
      register_schemas "$(cluster_field "$i" web)" || die "schema registration failed (output above)"
    done
  fi
  if (( clusters == 2 )) && [[ "$GEO" == true ]]; then
    geo_bootstrap || die "geo-replication bootstrap failed (output above)"
  fi
  log "up in $(( $(date +%s) - t0 ))s"
}

# cmd_down [cluster…]: stops the named clusters, or every one this script knows
cmd_down() {
  local name pid any=0
  while IFS= read -r name; do
    pid="$(running_pid "$name")"
    if [[ -n "$pid" ]]; then
      stop_pid "$name" "$pid"; any=1
    fi
    rm -f "$(pid_file "$name")"
  done < <(if (( $# )); then printf '%s\n' "$@"; else known_clusters; fi)
  (( any )) || log "nothing running"
}

# conf_value <cluster> <key> <default>: value from the cluster's generated standalone.conf
conf_value() {
  local f v
  f="$(cluster_dir "$1")/conf/standalone.conf"
  v=""
  if [[ -f "$f" ]]; then v="$(sed -n "s/^$2=//p" "$f" | tail -n 1)"; fi
  printf '%s' "${v:-$3}"
}

cmd_status() {
  local name pid web broker idx rc=0 found=0
  for idx in 1 2; do
    name="$(cluster_field "$idx" name)"
    web="$(conf_value "$name" webServicePort "$(cluster_field "$idx" web)")"
    broker="$(conf_value "$name" brokerServicePort "$(cluster_field "$idx" broker)")"
    pid="$(running_pid "$name")"
    if [[ -z "$pid" ]]; then
      [[ -d "$(cluster_dir "$name")" ]] && log "$name: stopped (data $(cluster_dir "$name"))"
      continue
    fi
    found=1
    auth_of "$name"
    local rss health
    rss="$(ps -o rss= -p "$pid" 2>/dev/null | awk '{printf "%.0f MiB", $1/1024}')"
    if health_ok "$web"; then health=healthy; else health=UNHEALTHY; rc=1; fi
    log "$name: running pid $pid, $health, RSS $rss, pulsar://127.0.0.1:$broker http://127.0.0.1:$web ws://127.0.0.1:$web/ws/v2/, log $(log_file "$name")"
  done
  (( found )) || { log "no broker running"; rc=3; }
  return "$rc"
}

cmd_schemas() {
  local idx name web any=0
  for idx in 1 2; do
    name="$(cluster_field "$idx" name)"
    web="$(conf_value "$name" webServicePort "$(cluster_field "$idx" web)")"
    auth_of "$name"
    health_ok "$web" || continue
    any=1
    register_schemas "$web" || die "$name: schema registration failed (output above)"
  done
  (( any )) || die "no healthy broker to register schemas on"
}

cmd_token() {
  local role="" expiry_set=0
  while (($#)); do
    case "$1" in
      --expiry) TOKEN_EXPIRY="${2:-}"; expiry_set=1; shift 2 ;;
      --expiry=*) TOKEN_EXPIRY="${1#*=}"; expiry_set=1; shift ;;
      -*) die "unknown option for token: $1" ;;
      *) [[ -z "$role" ]] || die "token takes one role"; role="$1"; shift ;;
    esac
  done
  [[ -n "$role" ]] || die "usage: pulsar.sh token <role> [--expiry 30d]"
  (( expiry_set == 0 )) || [[ -n "$TOKEN_EXPIRY" ]] || die "--expiry needs a value such as 30d"
  [[ -s "$AUTH_DIR/secret.key" ]] || die "no secret key at $AUTH_DIR/secret.key (start with: pulsar.sh up --auth)"
  ensure_lib
  pick_java
  issue_token "$role"
}

# auth_of <cluster>: AUTH=1 when that cluster's rendered configuration turns authentication on
auth_of() {
  if [[ "$(conf_value "$1" authenticationEnabled false)" == true ]]; then AUTH=1; else AUTH=0; fi
}

cmd_logs() {
  local name="${1:-$C1_NAME}"
  exec tail -n 100 -F "$(log_file "$name")"
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "$cmd" in
    up) cmd_up "$@" ;;
    down|stop) cmd_down "$@" ;;
    status) cmd_status ;;
    logs) cmd_logs "$@" ;;
    schemas) cmd_schemas ;;
    token) cmd_token "$@" ;;
    geo) geo_bootstrap ;;
    -h|--help|help|"") usage ;;
    *) usage; die "unknown command: $cmd" ;;
  esac
}

main "$@"
