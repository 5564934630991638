#!/bin/sh
# Sets up MIG's scale-out back end on one Debian machine: PostgreSQL (a `mig` role and
# database), RabbitMQ (virtual host `mig`, the schedulers' user; deploy/rabbitmq-setup.sh) and
# a server.toml for `mig-server api` and `mig-server scheduler` processes. Run as root; safe to
# run again (it keeps what exists, and sets new passwords). docs/deploy.md explains each step.
#
#   scaleout-debian.sh [--no-tls] [data_dir]        default /var/lib/mig
#
# RabbitMQ gets AMQPS with client certificates, from the CA `mig-server init` makes (and
# restarts); --no-tls leaves it on plain AMQP (a test network only).
# Environment: MIG_SERVER_NAME (default: hostname -f), the name agents and clients use;
# MIG_DB_HOST (default 127.0.0.1), where the schedulers reach PostgreSQL.
set -eu

tls=yes
if [ "${1:-}" = "--no-tls" ]; then
    tls=no
    shift
fi
data_dir=${1:-/var/lib/mig}
here=$(cd "$(dirname "$0")" && pwd)
name=${MIG_SERVER_NAME:-$(hostname -f 2>/dev/null || hostname)}

need() { command -v "$1" >/dev/null 2>&1; }

if ! need psql || ! need rabbitmqctl; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql rabbitmq-server
fi
if ! pg_lsclusters -h 2>/dev/null | grep -q online; then
    for v in $(ls /etc/postgresql); do pg_ctlcluster --skip-systemctl-redirect "$v" main start; done
fi
rabbitmqctl -q status >/dev/null 2>&1 || { rabbitmq-server -detached; rabbitmqctl -q await_startup; }

# PostgreSQL: a role that owns its database; mig-server creates and migrates the tables.
db_password=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname = 'mig'\"" | grep -q 1 ||
    su postgres -c "psql -qc 'CREATE ROLE mig LOGIN'"
su postgres -c "psql -qc \"ALTER ROLE mig PASSWORD '$db_password'\""
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname = 'mig'\"" | grep -q 1 ||
    su postgres -c "createdb -O mig mig"
database_url="postgres://mig:$db_password@${MIG_DB_HOST:-127.0.0.1}:5432/mig?sslmode=require"

# The server's data directory: its CA also signs the broker's certificate.
if [ ! -f "$data_dir/server.toml" ]; then
    mig-server init --data-dir "$data_dir" --server-name "$name" --api-listen 0.0.0.0:8443 --relay-listen ""
fi
pki="$data_dir/pki"

# RabbitMQ: the virtual host, the schedulers' user, and TLS.
amqp_url=$(MIG_AMQP_HOST=$name sh "$here/rabbitmq-setup.sh" --vhost mig init | sed -n 's/^scheduler: \([^ ]*\).*/\1/p')
tls_keys=""
if [ "$tls" = yes ]; then
    sh "$here/rabbitmq-setup.sh" tls "$pki/ca.pem" "$pki/server.pem" "$pki/server.key"
    rabbitmqctl -q stop_app >/dev/null 2>&1 || true
    rabbitmqctl -q stop >/dev/null 2>&1 || true
    rabbitmq-server -detached
    sleep 2
    rabbitmqctl -q await_startup
    # The schedulers present the CA's client certificate.
    tls_keys="amqp_ca = \"$pki/ca.pem\"
amqp_cert = \"$pki/agent.pem\"
amqp_key = \"$pki/agent.key\""
else
    amqp_url=$(echo "$amqp_url" | sed 's|^amqps://|amqp://|; s|:5671/|:5672/|')
fi
conf="$data_dir/server.toml"
tmp="$conf.new"
awk -v db="$database_url" -v amqp="$amqp_url" -v tls="$tls_keys" '
    /^\[/ { section = $0 }
    section == "[database]" && /^#? *url *=/ { next }
    section == "[relay]" && /^ *(listen|amqp_url|amqp_ca|amqp_cert|amqp_key) *=/ { next }
    { print }
    $0 == "[database]" { print "url = \"" db "\"" }
    $0 == "[relay]" { print "listen = \"\""; print "amqp_url = \"" amqp "\""; if (tls != "") print tls }
' "$conf" >"$tmp"
chmod 600 "$tmp"
mv "$tmp" "$conf"

cat <<EOF
PostgreSQL: $database_url
RabbitMQ:   $amqp_url
Configuration: $conf

Each agent needs its own RabbitMQ user: on the agent, \`mig-agent identity\`; here,
\`$here/rabbitmq-setup.sh --vhost mig agent <queueloc>\`, and the URL it prints as the
agent's relay (with ca = $pki/ca.pem and the agent bundle $pki/agent.pem, agent.key).
Then start \`mig-server --config $conf api\` and \`mig-server --config $conf scheduler\`
(as many of each as you like, on this machine or others with the same configuration).
EOF
