#!/usr/bin/env bash
# Starts each local service the integration tests use, if it is not already listening.
# Safe to run repeatedly. Services: PostgreSQL 5432, MariaDB 3306, Redis 6379, RabbitMQ 5672,
# Mosquitto 1883, NATS (JetStream) 4222, and the Kafka-protocol broker tansu 9092 (installed by
# scripts/tools.sh; in-memory storage: the tests make their own topics).
set -u

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  local port=$1 name=$2
  for _ in $(seq 1 60); do
    listening "$port" && return 0
    sleep 1
  done
  echo "services: $name did not start on port $port" >&2
  return 1
}

start() {
  local port=$1 name=$2; shift 2
  if listening "$port"; then
    echo "services: $name already running on $port"
    return 0
  fi
  echo "services: starting $name"
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "services: cannot start $name: '$1' is not installed" >&2
    return 1
  fi
  "$@" >/dev/null 2>&1 || true
  wait_for "$port" "$name"
}

status=0
start 5432 PostgreSQL pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql 2>/dev/null | head -n1)" main start || status=1
start 3306 MariaDB start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || status=1
start 6379 Redis redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log || status=1
start 5672 RabbitMQ rabbitmq-server -detached || status=1
start 1883 Mosquitto mosquitto -d -c /etc/mosquitto/mosquitto.conf || status=1
start 4222 NATS start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log || status=1
tansu="${EVENTFLUX_TOOLS:-$HOME/.cache/eventflux-tools}/bin/tansu"
start 9092 "Kafka (tansu)" start-stop-daemon --start --oknodo --background --exec "$tansu" -- broker --silent --listener-url tcp://127.0.0.1:9092 --advertised-listener-url tcp://127.0.0.1:9092 --storage-engine memory://tansu/ || status=1
exit $status
