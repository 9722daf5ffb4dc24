#!/usr/bin/env bash
# Real Apache Kafka on demand, without Docker: fetch the published jars with Maven, run a
# KRaft single node or a 3-node cluster on loopback, and run Kafka's own command-line tools.
#
#   scripts/kafka-dist.sh fetch   [-v VERSION]                 jars into the cache; prints the dir
#   scripts/kafka-dist.sh start   [-v VERSION] [-n NODES] [--name NAME] [--set k=v ...] [--security] [--authorizer]
#                                 formats KRaft storage, starts NODES (1 or 3) combined
#                                 broker+controller nodes on free loopback ports, waits until
#                                 every broker serves, prints the bootstrap list on stdout
#                                 --security (1 node only): also listeners SSL, SASL_PLAINTEXT,
#                                 SASL_SSL, SSL_ALT (SSL on 127.0.0.2, for host-name checks) and
#                                 MTLS (SSL with ssl.client.auth=required);
#                                 certificates made with openssl in RUN/tls (ca.pem, server.pem,
#                                 client.pem + client.key for mTLS, untrusted-ca.pem), mechanisms
#                                 PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER (Kafka's
#                                 unsecured JWT validator) on SASL_SSL and only PLAIN on
#                                 SASL_PLAINTEXT, which also has connections.max.reauth.ms=5000;
#                                 user alice / alice-secret for PLAIN and both SCRAMs;
#                                 ssl.client.auth=requested
#                                 --authorizer: authorizer.class.name=StandardAuthorizer with
#                                 super.users=User:ANONYMOUS (the PLAINTEXT listeners, inter-broker
#                                 and controller traffic included); SASL users such as alice get
#                                 only what ACLs grant them
#   scripts/kafka-dist.sh bootstrap [--name NAME] [--listener L] prints the bootstrap list again
#                                 (of listener L: PLAINTEXT (default), SSL, SASL_PLAINTEXT,
#                                 SASL_SSL, SSL_ALT, MTLS)
#   scripts/kafka-dist.sh tls-dir [--name NAME]                prints the secured cluster's
#                                 certificate directory
#   scripts/kafka-dist.sh certs DIR                            makes the same certificates in
#                                 DIR (tests start kafka-server-mini with them)
#   scripts/kafka-dist.sh stop    [--name NAME]                clean stop of every node
#   scripts/kafka-dist.sh kill    [--name NAME] NODE_ID        kill -9 one node
#   scripts/kafka-dist.sh restart [--name NAME] NODE_ID        start one stopped/killed node again
#   scripts/kafka-dist.sh tool    [-v VERSION] TOOL [ARGS...]  runs a Kafka tool by its script name:
#       kafka-console-producer kafka-console-consumer kafka-topics kafka-consumer-groups
#       kafka-configs kafka-producer-perf-test kafka-consumer-perf-test kafka-get-offsets
#       kafka-delete-records kafka-dump-log kafka-metadata-quorum kafka-storage kafka-acls
#   scripts/kafka-dist.sh java-classpath [-v VERSION]          prints the classpath (for javac)
#   scripts/kafka-dist.sh versions                             prints the pinned versions
#
# Cache: ${KAFKA_DIST_HOME:-~/.cache/kafka-dist}/VERSION/libs (jars), .../run/NAME (node data,
# logs, state). Nothing is written into the repository.
set -euo pipefail

# The 4.0.x release that matches the message specs (4.0.0-SNAPSHOT of October 2024; 4.0.0 itself
# is not served by Maven Central here, 4.0.2 is its newest patch release) and the newest 4.x.
KAFKA_VERSION_SPEC="4.0.2"
KAFKA_VERSION_NEWEST="4.4.0"
LOG4J_VERSION="2.24.3"

home="${KAFKA_DIST_HOME:-$HOME/.cache/kafka-dist}"
version="${KAFKA_DIST_VERSION:-$KAFKA_VERSION_SPEC}"
name="default"
nodes=1
sets=()
security=0
authorizer=0
listener=PLAINTEXT

die() { echo "kafka-dist: $*" >&2; exit 1; }

java_bin() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then echo "$JAVA_HOME/bin/java"; else command -v java || die "java not found (install a JDK 17+)"; fi
}

libs_dir() { echo "$home/$version/libs"; }

fetch() {
  local dir="$home/$version"
  if [ -f "$dir/.complete" ]; then echo "$dir"; return; fi
  command -v mvn >/dev/null || die "mvn not found: Maven is needed to fetch Apache Kafka $version"
  mkdir -p "$dir"
  cat >"$dir/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.kafka-dist</groupId><artifactId>kafka-dist</artifactId><version>$version</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$version</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
  echo "kafka-dist: fetching Apache Kafka $version with Maven into $dir" >&2
  rm -rf "$dir/libs"
  if ! (cd "$dir" && mvn -q -B dependency:copy-dependencies -DoutputDirectory=libs -DincludeScope=runtime >"$dir/fetch.log" 2>&1); then
    tail -20 "$dir/fetch.log" >&2
    die "Maven could not fetch org.apache.kafka:kafka_2.13:$version (log: $dir/fetch.log)"
  fi
  # Which jar holds which class: tool main classes moved between Kafka versions.
  : >"$dir/classes.idx"
  for j in "$dir"/libs/kafka*.jar; do
    unzip -Z1 "$j" 2>/dev/null | grep -E '^(kafka|org/apache/kafka)/.*[A-Za-z]\.class$' | grep -v '\$' >>"$dir/classes.idx" || true
  done
  cat >"$dir/log4j2-tools.properties" <<'EOF'
rootLogger.level = WARN
rootLogger.appenderRef.stderr.ref = STDERR
appender.stderr.type = Console
appender.stderr.name = STDERR
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = [%d] %p %m (%c)%n
EOF
  touch "$dir/.complete"
  echo "$dir"
}

classpath() { local d; d=$(libs_dir); ls "$d"/*.jar | tr '\n' ':' ; }

# First class of the candidates present in this version's jars.
main_class() {
  local c
  for c in "$@"; do
    if grep -qx "${c//.//}.class" "$home/$version/classes.idx"; then echo "$c"; return; fi
  done
  die "none of $* in Kafka $version"
}

tool_class() {
  case "$1" in
    kafka-console-producer) main_class org.apache.kafka.tools.ConsoleProducer kafka.tools.ConsoleProducer ;;
    kafka-console-consumer) main_class org.apache.kafka.tools.consumer.ConsoleConsumer kafka.tools.ConsoleConsumer ;;
    kafka-topics) main_class org.apache.kafka.tools.TopicCommand kafka.admin.TopicCommand ;;
    kafka-consumer-groups) main_class org.apache.kafka.tools.consumer.group.ConsumerGroupCommand kafka.admin.ConsumerGroupCommand ;;
    kafka-configs) main_class org.apache.kafka.tools.ConfigCommand kafka.admin.ConfigCommand ;;
    kafka-producer-perf-test) main_class org.apache.kafka.tools.ProducerPerformance ;;
    kafka-consumer-perf-test) main_class org.apache.kafka.tools.ConsumerPerformance ;;
    kafka-get-offsets) main_class org.apache.kafka.tools.GetOffsetShell ;;
    kafka-delete-records) main_class org.apache.kafka.tools.DeleteRecordsCommand ;;
    kafka-dump-log) main_class org.apache.kafka.tools.DumpLogSegments kafka.tools.DumpLogSegments ;;
    kafka-metadata-quorum) main_class org.apache.kafka.tools.MetadataQuorumCommand ;;
    kafka-storage) main_class kafka.tools.StorageTool org.apache.kafka.tools.StorageTool ;;
    kafka-transactions) main_class org.apache.kafka.tools.TransactionsCommand ;;
    kafka-acls) main_class org.apache.kafka.tools.AclCommand kafka.admin.AclCommand ;;
    *) die "unknown tool $1" ;;
  esac
}

run_tool() {
  fetch >/dev/null
  local tool="$1"; shift
  local cls; cls=$(tool_class "$tool")
  exec "$(java_bin)" -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$home/$version/log4j2-tools.properties" \
    -cp "$(classpath)" "$cls" "$@"
}

# A port for a node to listen on, picked below the kernel's ephemeral range (32768-60999
# here): a port the kernel hands out (port 0, or the local side of any outgoing connection)
# can be taken by another process between this pick and the node's bind, which made a node
# fail with "Address already in use". Picks are remembered in $home/run/.ports so one start
# never gets the same port twice.
free_port() {
  mkdir -p "$home/run"
  python3 - "$home/run/.ports" <<'PY'
import random, socket, sys
path = sys.argv[1]
try:
    taken = [int(l) for l in open(path) if l.strip().isdigit()]
except OSError:
    taken = []
taken = taken[-2000:]
for _ in range(2000):
    port = random.randint(20000, 32767)
    if port in taken:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    with open(path, "w") as f:
        f.write("".join(f"{p}\n" for p in taken + [port]))
    print(port)
    sys.exit(0)
sys.exit("kafka-dist: no free port in 20000-32767")
PY
}

run_dir() { echo "$home/run/$name"; }

# Is something accepting connections on 127.0.0.1:PORT?
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_node() {
  local id="$1" rd; rd=$(run_dir)
  local cfg="$rd/node-$id/server.properties"
  nohup "$(java_bin)" -Xms256m -Xmx768m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$rd/node-$id/log4j2.properties" -Dkafka.logs.dir="$rd/node-$id/logs" \
    -cp "$(classpath)" kafka.Kafka "$cfg" >"$rd/node-$id/stdout.log" 2>&1 &
  echo $! >"$rd/node-$id/pid"
}

# Is node ID of the cluster in RD running? Its recorded pid must still be this node's Java
# process: a run directory can outlive its processes (a cache carried to another machine),
# and there the number may belong to anyone.
node_alive() {
  local rd="$1" id="$2" pid
  [ -f "$rd/node-$id/pid" ] || return 1
  pid=$(cat "$rd/node-$id/pid")
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$rd/node-$id/"
}

wait_node() {
  local id="$1" rd; rd=$(run_dir)
  local port; port=$(cat "$rd/node-$id/broker.port")
  local deadline=$(( $(date +%s) + ${KAFKA_DIST_START_TIMEOUT:-120} ))
  while :; do
    if grep -q "Kafka Server started" "$rd/node-$id/logs/server.log" 2>/dev/null && port_open "$port"; then return 0; fi
    if ! kill -0 "$(cat "$rd/node-$id/pid")" 2>/dev/null; then
      tail -30 "$rd/node-$id/stdout.log" "$rd/node-$id/logs/server.log" >&2 2>/dev/null || true
      die "node $id of $name exited during start (logs in $rd/node-$id)"
    fi
    [ "$(date +%s)" -lt "$deadline" ] || die "node $id of $name did not serve within ${KAFKA_DIST_START_TIMEOUT:-120}s (logs in $rd/node-$id)"
    sleep 0.3
  done
}

bootstrap() {
  local rd; rd=$(run_dir)
  [ -f "$rd/nodes" ] || die "no cluster named $name (start it first)"
  # A run directory outlives its processes (a cache kept between machines, a reboot):
  # a cluster none of whose nodes is alive is not running, whatever its files say.
  local alive=0 id
  for id in $(cat "$rd/nodes"); do
    if node_alive "$rd" "$id"; then alive=1; fi
  done
  [ "$alive" = 1 ] || die "cluster $name is not running (no live node; start it again)"
  local out="" file=broker.port host=127.0.0.1
  case "$listener" in
    PLAINTEXT) ;;
    SSL) file=ssl.port ;;
    SASL_PLAINTEXT) file=sasl_plaintext.port ;;
    SASL_SSL) file=sasl_ssl.port ;;
    SSL_ALT) file=ssl_alt.port; host=127.0.0.2 ;;
    MTLS) file=mtls.port ;;
    *) die "unknown listener $listener" ;;
  esac
  for id in $(cat "$rd/nodes"); do
    [ -f "$rd/node-$id/$file" ] || die "cluster $name has no $listener listener (start it with --security)"
    out="${out:+$out,}$host:$(cat "$rd/node-$id/$file")"
  done
  echo "$out"
}

# Certificates for --security, made with openssl into RUN/tls: a CA, a server certificate
# for 127.0.0.1 and localhost, a client certificate (mTLS), and a second CA nobody trusts.
make_certs() {
  local d="$1"
  command -v openssl >/dev/null || die "openssl is needed for --security"
  mkdir -p "$d"
  (
    cd "$d"
    local ca
    for ca in ca untrusted-ca; do
      openssl req -x509 -newkey rsa:2048 -nodes -keyout "$ca.key" -out "$ca.pem" -days 30 \
        -subj "/CN=kafka-dist $ca" -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    done
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=CA:FALSE\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 30 -extfile server.ext 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=alice" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 30 -extfile client.ext 2>/dev/null
    # Kafka's PEM keystore: the PKCS#8 key, then the chain.
    openssl pkcs8 -topk8 -nocrypt -in server.key -out server.pk8
    cat server.pk8 server.pem >server-keystore.pem
    cat client.key client.pem >client-keystore.pem
    rm -f ./*.csr ./*.ext ./*.srl
  ) || die "making certificates in $d failed"
}

security_properties() {
  local rd="$1" id="$2" tls="$1/tls"
  local sp ssp slp ap
  sp=$(cat "$rd/node-$id/ssl.port"); ssp=$(cat "$rd/node-$id/sasl_ssl.port")
  slp=$(cat "$rd/node-$id/sasl_plaintext.port"); ap=$(cat "$rd/node-$id/ssl_alt.port")
  local mp; mp=$(cat "$rd/node-$id/mtls.port")
  local plain='org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";'
  local scram='org.apache.kafka.common.security.scram.ScramLoginModule required;'
  local oauth='org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="broker";'
  cat <<EOF
listeners=PLAINTEXT://127.0.0.1:$(cat "$rd/node-$id/broker.port"),CONTROLLER://127.0.0.1:$(cat "$rd/node-$id/controller.port"),SSL://127.0.0.1:$sp,SASL_PLAINTEXT://127.0.0.1:$slp,SASL_SSL://127.0.0.1:$ssp,SSL_ALT://127.0.0.2:$ap,MTLS://127.0.0.1:$mp
advertised.listeners=PLAINTEXT://127.0.0.1:$(cat "$rd/node-$id/broker.port"),SSL://127.0.0.1:$sp,SASL_PLAINTEXT://127.0.0.1:$slp,SASL_SSL://127.0.0.1:$ssp,SSL_ALT://127.0.0.2:$ap,MTLS://127.0.0.1:$mp
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL,SSL_ALT:SSL,MTLS:SSL
ssl.keystore.type=PEM
ssl.keystore.location=$tls/server-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$tls/ca.pem
ssl.client.auth=requested
listener.name.mtls.ssl.client.auth=required
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER
listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER
listener.name.sasl_ssl.plain.sasl.jaas.config=$plain
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=$scram
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=$scram
listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=$oauth
listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=$plain
listener.name.sasl_plaintext.connections.max.reauth.ms=5000
EOF
}

start() {
  [ "$nodes" = 1 ] || [ "$nodes" = 3 ] || die "--nodes must be 1 or 3"
  [ "$security" = 0 ] || [ "$nodes" = 1 ] || die "--security needs -n 1"
  fetch >/dev/null
  local rd; rd=$(run_dir)
  if [ -f "$rd/nodes" ]; then stop_all >/dev/null 2>&1 || true; fi
  rm -rf "$rd"; mkdir -p "$rd"
  local id voters="" rf=$nodes minisr=1
  [ "$nodes" = 3 ] && minisr=2
  for id in $(seq 1 "$nodes"); do
    mkdir -p "$rd/node-$id/logs" "$rd/node-$id/data"
    free_port >"$rd/node-$id/broker.port"
    free_port >"$rd/node-$id/controller.port"
    voters="${voters:+$voters,}$id@127.0.0.1:$(cat "$rd/node-$id/controller.port")"
    if [ "$security" = 1 ]; then
      local f
      for f in ssl sasl_plaintext sasl_ssl ssl_alt mtls; do free_port >"$rd/node-$id/$f.port"; done
    fi
  done
  local format_extra=()
  if [ "$security" = 1 ]; then
    make_certs "$rd/tls"
    format_extra=(--add-scram 'SCRAM-SHA-256=[name=alice,password=alice-secret]'
                  --add-scram 'SCRAM-SHA-512=[name=alice,password=alice-secret]')
  fi
  seq 1 "$nodes" | tr '\n' ' ' >"$rd/nodes"
  echo "$version" >"$rd/version"
  local cluster_id
  cluster_id=$(python3 -c 'import base64,uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')
  for id in $(seq 1 "$nodes"); do
    local bp cp; bp=$(cat "$rd/node-$id/broker.port"); cp=$(cat "$rd/node-$id/controller.port")
    cat >"$rd/node-$id/server.properties" <<EOF
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$bp,CONTROLLER://127.0.0.1:$cp
advertised.listeners=PLAINTEXT://127.0.0.1:$bp
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$rd/node-$id/data
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$minisr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=${KAFKA_DIST_OFFSETS_PARTITIONS:-5}
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$minisr
transaction.state.log.num.partitions=${KAFKA_DIST_OFFSETS_PARTITIONS:-5}
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
num.network.threads=2
num.io.threads=2
log.flush.interval.messages=9223372036854775807
EOF
    if [ "$security" = 1 ]; then security_properties "$rd" "$id" >>"$rd/node-$id/server.properties"; fi
    if [ "$authorizer" = 1 ]; then
      printf '%s\n' authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer \
        super.users=User:ANONYMOUS >>"$rd/node-$id/server.properties"
    fi
    local kv
    for kv in "${sets[@]+"${sets[@]}"}"; do echo "$kv" >>"$rd/node-$id/server.properties"; done
    cat >"$rd/node-$id/log4j2.properties" <<EOF
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $rd/node-$id/logs/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
EOF
    "$(java_bin)" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
      -Dlog4j2.configurationFile="$home/$version/log4j2-tools.properties" -cp "$(classpath)" \
      "$(tool_class kafka-storage)" format --cluster-id="$cluster_id" -c "$rd/node-$id/server.properties" "${format_extra[@]+"${format_extra[@]}"}" \
      >"$rd/node-$id/format.log" 2>&1 || { cat "$rd/node-$id/format.log" >&2; die "formatting node $id failed"; }
  done
  for id in $(seq 1 "$nodes"); do start_node "$id"; done
  for id in $(seq 1 "$nodes"); do wait_node "$id"; done
  echo "kafka-dist: Apache Kafka $version, $nodes node(s), name $name, data in $rd" >&2
  if [ "$security" = 1 ]; then
    local l
    for l in SSL SASL_PLAINTEXT SASL_SSL SSL_ALT MTLS; do echo "kafka-dist: $l listener $(listener=$l bootstrap)" >&2; done
    echo "kafka-dist: CA $rd/tls/ca.pem, client certificate $rd/tls/client.pem, key $rd/tls/client.key" >&2
  fi
  bootstrap
}

stop_node() {
  local id="$1" sig="$2" rd; rd=$(run_dir)
  local pidf="$rd/node-$id/pid"
  [ -f "$pidf" ] || return 0
  local pid; pid=$(cat "$pidf")
  if node_alive "$rd" "$id"; then
    kill "-$sig" "$pid" 2>/dev/null || true
    local i
    for i in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidf"
}

stop_all() {
  local rd; rd=$(run_dir)
  [ -f "$rd/nodes" ] || return 0
  local id
  # Brokers first, in parallel, so a controller quorum stays up while they shut down.
  for id in $(cat "$rd/nodes"); do stop_node "$id" TERM & done
  wait
  echo "kafka-dist: stopped $name" >&2
}

cmd="${1:-}"; [ $# -gt 0 ] && shift
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    -v|--version) version="$2"; shift 2 ;;
    -n|--nodes) nodes="$2"; shift 2 ;;
    --name) name="$2"; shift 2 ;;
    --set) sets+=("$2"); shift 2 ;;
    --security) security=1; shift ;;
    --authorizer) authorizer=1; shift ;;
    --listener) listener="$2"; shift 2 ;;
    --) shift; args+=("$@"); break ;;
    *) if [ "$cmd" = tool ]; then args+=("$@"); break; fi; args+=("$1"); shift ;;
  esac
done
case "$version" in newest) version="$KAFKA_VERSION_NEWEST" ;; spec) version="$KAFKA_VERSION_SPEC" ;; esac
if [ "$cmd" != start ] && [ "$cmd" != fetch ] && [ "$cmd" != tool ] && [ -f "$(run_dir)/version" ]; then
  version=$(cat "$(run_dir)/version")
fi

case "$cmd" in
  fetch) fetch ;;
  start) start ;;
  bootstrap) bootstrap ;;
  certs) [ ${#args[@]} -ge 1 ] || die "certs needs a directory"; make_certs "${args[0]}"; echo "${args[0]}" ;;
  tls-dir) [ -f "$(run_dir)/tls/ca.pem" ] || die "cluster $name has no certificates (start it with --security)"; echo "$(run_dir)/tls" ;;
  stop) stop_all ;;
  kill) [ ${#args[@]} -ge 1 ] || die "kill needs a node id"; stop_node "${args[0]}" KILL ;;
  restart) [ ${#args[@]} -ge 1 ] || die "restart needs a node id"; start_node "${args[0]}"; wait_node "${args[0]}"; bootstrap ;;
  tool) [ ${#args[@]} -ge 1 ] || die "tool needs a tool name"; run_tool "${args[@]}" ;;
  java-classpath) fetch >/dev/null; classpath; echo ;;
  versions) echo "spec=$KAFKA_VERSION_SPEC newest=$KAFKA_VERSION_NEWEST" ;;
  *) sed -n '2,42p' "$0"; exit 2 ;;
esac
