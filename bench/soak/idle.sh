#!/usr/bin/env bash
# Soak: one agent idle at the default intervals (relay pings every 30 s, the agent's silence
# timeout is 100 s) for MIG_SOAK_MINUTES (default 15), answering actions launched at random
# moments; fails if it ever reconnected. Prints the summary line kept in docs/agent.md.
#
#   bench/soak/idle.sh            # 15 minutes
#   MIG_SOAK_MINUTES=60 bench/soak/idle.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export MIG_SOAK_MINUTES="${MIG_SOAK_MINUTES:-15}"
cargo build -q -p mig-server -p mig-agent -p mig-client
cargo test -q -p mig-e2e --test soak -- --ignored --nocapture 2>&1 | grep -E '^soak:|panicked|test result'
