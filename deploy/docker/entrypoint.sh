#!/bin/sh
# One image, every role: `docker run agent-mesh worker` or MESH_ROLE=worker. Any other command
# (e.g. `node dist/cli/apps/cli/src/main.js dlq list`) runs as given.
set -e
role="${1:-$MESH_ROLE}"
case "$role" in
  orchestrator|worker|aggregator|market-maker|saga-coordinator|mesh|cli)
    [ $# -gt 0 ] && shift
    exec node "dist/$role/apps/$role/src/main.js" "$@" ;;
  "")
    echo "agent-mesh: name a role (orchestrator, worker, aggregator, market-maker, saga-coordinator, mesh, cli) as the command or in MESH_ROLE" >&2
    exit 2 ;;
  *) exec "$@" ;;
esac
