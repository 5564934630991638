#!/bin/sh
# Sets up RabbitMQ for MIG's AMQP relay: a virtual host, the schedulers' user, one user per
# agent that can read only its own queue, and (optionally) AMQPS with client certificates.
# Run it as root on the broker's machine (it drives rabbitmqctl). docs/deploy.md explains it.
#
#   rabbitmq-setup.sh [--vhost mig] init                   vhost + scheduler user
#   rabbitmq-setup.sh [--vhost mig] agent <queueloc> [pw]  a user for one agent
#   rabbitmq-setup.sh [--vhost mig] remove-agent <queueloc>
#   rabbitmq-setup.sh tls <ca.pem> <server.pem> <server.key>   AMQPS on 5671, client certs required
#   rabbitmq-setup.sh [--vhost mig] large-fleet [agents]   classic queues v2 for the vhost's
#                                                          queues, if the fd limit allows
#
# Passwords not given are generated; each command prints the URL to put in the configuration.
set -eu

vhost=mig
host=${MIG_AMQP_HOST:-$(hostname -f 2>/dev/null || hostname)}
if [ "${1:-}" = "--vhost" ]; then
    vhost=$2
    shift 2
fi

ctl() { rabbitmqctl -q "$@"; }

password() {
    if [ -n "${1:-}" ]; then echo "$1"; else head -c 24 /dev/urandom | base64 | tr -d '/+='; fi
}

# Regex-quotes a queueloc (MIG's are <os>.<host>.<random>: letters, digits, dots, dashes).
quoted() {
    case $1 in
        *[!A-Za-z0-9._-]* | "") echo "queueloc '$1': only letters, digits, '.', '_' and '-'" >&2; exit 2 ;;
        *.*) ;;
        *) echo "queueloc '$1' is not <os>.<host>.<random> (mig-agent identity prints it)" >&2; exit 2 ;;
    esac
    printf '%s' "$1" | sed 's/\./\\./g'
}

# Creates the user, or sets its password if it exists.
user() {
    if ctl list_users | cut -f1 | grep -qx "$1"; then
        ctl change_password "$1" "$2"
    else
        ctl add_user "$1" "$2"
    fi
}

case ${1:-} in
init)
    ctl list_vhosts | grep -qx "$vhost" || ctl add_vhost "$vhost"
    pw=$(password "${2:-}")
    user mig-scheduler "$pw"
    # Schedulers declare the exchanges and their shared queues, publish commands straight
    # to agents' queues (through the default exchange, `amq.default`), and consume results,
    # heartbeats and scheduled runs. They never read agents' queues.
    ctl set_permissions -p "$vhost" mig-scheduler \
        '^(toagents|toschedulers|mig\.agt\.(results|heartbeats|runs))$' \
        '^(amq\.default|toagents|mig\.agt\.(results|heartbeats|runs))$' \
        '^(toschedulers|mig\.agt\.(results|heartbeats|runs))$'
    echo "scheduler: amqps://mig-scheduler:$pw@$host:5671/$vhost   (relay.amqp_url in server.toml)"
    ;;
agent)
    [ $# -ge 2 ] || { echo "usage: $0 agent <queueloc> [password]  (mig-agent identity prints the queueloc)" >&2; exit 2; }
    q=$(quoted "$2")
    pw=$(password "${3:-}")
    user "$2" "$pw"
    # Its own queue only: declare it, bind it to `toagents`, consume it; publish to
    # `toschedulers` (results, heartbeats and scheduled runs, signed with the agent's key) and
    # nowhere else.
    ctl set_permissions -p "$vhost" "$2" \
        "^mig\\.agt\\.$q\$" \
        "^(toschedulers|mig\\.agt\\.$q)\$" \
        "^(toagents|mig\\.agt\\.$q)\$"
    ctl set_topic_permissions -p "$vhost" "$2" toschedulers '^mig\.agt\.(results|heartbeats|runs)$' '^$'
    ctl set_topic_permissions -p "$vhost" "$2" toagents '^$' "^mig\\.agt\\.$q\$"
    echo "agent: amqps://$2:$pw@$host:5671/$vhost   (relay in agent.toml)"
    ;;
remove-agent)
    [ $# -ge 2 ] || { echo "usage: $0 remove-agent <queueloc>" >&2; exit 2; }
    quoted "$2" >/dev/null
    ctl delete_user "$2"
    ;;
large-fleet)
    agents=${2:-10000}
    # Classic queues v2 persist a message into thousands of agent queues faster than v1
    # (BENCHMARKS.md, fan-out), but each keeps two files open (its index and its message
    # store) and each agent connection a socket: about three descriptors per agent. A broker
    # short of them stalls for good (queue processes wait forever for a file handle, and
    # deleting queues hangs), so the policy is only set when the broker may open enough.
    broker=$(pgrep -o -u rabbitmq beam.smp || true)
    # The running broker's own limit (`rabbitmqctl status` is slow on a busy broker).
    limit=$(awk '/^Max open files/ {print $4}' "/proc/$broker/limits" 2>/dev/null || true)
    need=$((agents * 3 + 1000))
    case $limit in "" | *[!0-9]*) limit= ;; esac # none found, or "unlimited"
    if [ -n "$limit" ] && [ "$limit" -lt "$need" ]; then
        echo "RabbitMQ may open $limit files; classic queues v2 for $agents agents need about $need:" >&2
        echo "policy not set, queues stay v1 (raise the limit first: systemd LimitNOFILE=$need" >&2
        echo "or more in a drop-in for rabbitmq-server.service, then run this again)" >&2
        exit 1
    fi
    ctl set_policy -p "$vhost" --apply-to queues mig-queues-v2 '^mig\.agt\.' '{"queue-version":2}'
    echo "queues of vhost $vhost are classic v2 (policy mig-queues-v2)"
    ;;
tls)
    [ $# -ge 4 ] || { echo "usage: $0 tls <ca.pem> <server.pem> <server.key>" >&2; exit 2; }
    for f in "$2" "$3" "$4"; do [ -r "$f" ] || { echo "cannot read $f" >&2; exit 2; }; done
    mkdir -p /etc/rabbitmq/conf.d /etc/rabbitmq/tls
    install -m 0644 "$2" /etc/rabbitmq/tls/ca.pem
    install -m 0644 "$3" /etc/rabbitmq/tls/server.pem
    install -m 0640 -g rabbitmq "$4" /etc/rabbitmq/tls/server.key 2>/dev/null ||
        install -m 0600 "$4" /etc/rabbitmq/tls/server.key
    cat >/etc/rabbitmq/conf.d/50-mig-tls.conf <<'EOF'
# MIG: AMQPS only, with client certificates; plain AMQP off.
listeners.tcp = none
listeners.ssl.default = 5671
ssl_options.cacertfile = /etc/rabbitmq/tls/ca.pem
ssl_options.certfile = /etc/rabbitmq/tls/server.pem
ssl_options.keyfile = /etc/rabbitmq/tls/server.key
ssl_options.verify = verify_peer
ssl_options.fail_if_no_peer_cert = true
ssl_options.versions.1 = tlsv1.3
ssl_options.versions.2 = tlsv1.2
EOF
    echo "wrote /etc/rabbitmq/conf.d/50-mig-tls.conf: restart RabbitMQ to listen on 5671"
    ;;
*)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
