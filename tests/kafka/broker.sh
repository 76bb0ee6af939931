#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft, combined broker + controller) for Runnel's tests.
#
#   tests/kafka/broker.sh start    # prints the bootstrap address 127.0.0.1:PORT as its last line
#   tests/kafka/broker.sh status   # "running 127.0.0.1:PORT" or "stopped" (exit 1)
#   tests/kafka/broker.sh stop     # stops the broker and removes its data
#
# Environment:
#   KAFKA_PORT          client port (default 9092); the controller listens on KAFKA_PORT + 1
#   KAFKA_VERSION       Apache Kafka version fetched from Maven Central (default 4.1.1)
#   RUNNEL_KAFKA_CACHE  where the jars are kept (default ~/.cache/runnel/kafka-$KAFKA_VERSION)
#   KAFKA_DATA_DIR      the broker's data and log (default /tmp/runnel-kafka-$KAFKA_PORT)
#   KAFKA_HEAP_OPTS     JVM heap (default -Xms256m -Xmx1g)
#
# The jars (org.apache.kafka:kafka_2.13 and its runtime dependencies) are fetched once with Maven
# into the cache, outside the repository. Transactions work on this single node: the transaction
# state log and the offsets topic have replication factor 1 and min ISR 1.
set -euo pipefail

port="${KAFKA_PORT:-9092}"
controller_port=$((port + 1))
version="${KAFKA_VERSION:-4.1.1}"
log4j_version="2.24.3"
cache="${RUNNEL_KAFKA_CACHE:-$HOME/.cache/runnel/kafka-$version}"
data="${KAFKA_DATA_DIR:-/tmp/runnel-kafka-$port}"
pid_file="$data/broker.pid"
address="127.0.0.1:$port"

log() { echo "broker.sh: $*" >&2; }

running_pid() {
  [[ -f "$pid_file" ]] || return 1
  local pid
  pid=$(cat "$pid_file")
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

fetch_jars() {
  if [[ -f "$cache/libs/kafka_2.13-$version.jar" ]]; then
    return
  fi
  command -v mvn >/dev/null || { log "Maven (mvn) and Java 17+ are required"; exit 1; }
  log "fetching Apache Kafka $version jars from Maven Central into $cache"
  mkdir -p "$cache"
  cat >"$cache/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>runnel.tests</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$version</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$log4j_version</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$log4j_version</version>
    </dependency>
  </dependencies>
</project>
POM
  rm -rf "$cache/libs.partial"
  mvn -q -B -f "$cache/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$cache/libs.partial" -DincludeScope=runtime -Dstyle.color=never >&2
  rm -rf "$cache/libs"
  mv "$cache/libs.partial" "$cache/libs"
}

write_config() {
  mkdir -p "$data/logs"
  cat >"$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data/logs
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
transaction.abort.timed.out.transaction.cleanup.interval.ms=1000
PROPS
  cat >"$data/log4j2.properties" <<LOG
rootLogger.level=WARN
rootLogger.appenderRef.out.ref=out
appender.out.type=Console
appender.out.name=out
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[%d] %p %m (%c)%n
logger.started.name=kafka.server.KafkaRaftServer
logger.started.level=INFO
LOG
}

accepts_connections() {
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

start() {
  if pid=$(running_pid); then
    log "already running (pid $pid)"
    echo "$address"
    return
  fi
  if accepts_connections; then
    log "port $port is taken by another process; set KAFKA_PORT"
    exit 1
  fi
  command -v java >/dev/null || { log "Java 17+ is required"; exit 1; }
  fetch_jars
  rm -rf "$data"
  write_config
  local classpath="$cache/libs/*"
  local java_opts=(-Dlog4j2.configurationFile="$data/log4j2.properties" -Djava.awt.headless=true)
  local cluster_id
  cluster_id=$(java -cp "$classpath" "${java_opts[@]}" kafka.tools.StorageTool random-uuid | tail -1)
  java -cp "$classpath" "${java_opts[@]}" kafka.tools.StorageTool format \
    -t "$cluster_id" -c "$data/server.properties" >"$data/format.log" 2>&1 \
    || { cat "$data/format.log" >&2; exit 1; }
  # shellcheck disable=SC2086
  nohup java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g} -XX:+UseG1GC -cp "$classpath" "${java_opts[@]}" \
    kafka.Kafka "$data/server.properties" >"$data/broker.log" 2>&1 </dev/null &
  echo $! >"$pid_file"
  log "starting Apache Kafka $version (pid $(cat "$pid_file")), log: $data/broker.log"
  for _ in $(seq 1 240); do
    if ! running_pid >/dev/null; then
      log "the broker exited during start:"
      tail -40 "$data/broker.log" >&2
      exit 1
    fi
    if grep -q "Kafka Server started" "$data/broker.log" 2>/dev/null && accepts_connections; then
      log "ready"
      echo "$address"
      return
    fi
    sleep 0.5
  done
  log "the broker did not become ready within 120 s:"
  tail -40 "$data/broker.log" >&2
  stop
  exit 1
}

stop() {
  if pid=$(running_pid); then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -9 "$pid" 2>/dev/null || true
    log "stopped (pid $pid)"
  else
    log "not running"
  fi
  rm -rf "$data"
}

status() {
  if pid=$(running_pid) && accepts_connections; then
    echo "running $address (pid $pid)"
  else
    echo "stopped"
    return 1
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
