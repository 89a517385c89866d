#!/usr/bin/env bash
# Shows that lint rejects a cross-agent import: writes one into the worker lib, expects
# `nx lint agent-worker` to fail with the module-boundaries rule, then removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
probe=libs/agents/worker/src/__boundary_probe__.ts
trap 'rm -f "$probe"' EXIT
cat > "$probe" <<'TS'
import { AggregatorModule } from '@agent-mesh/agents/aggregator';
export const crossAgentImport = AggregatorModule;
TS
if out=$(npx nx lint agent-worker --skip-nx-cache --outputStyle=static 2>&1); then
  echo "FAIL: a cross-agent import passed lint"; exit 1
fi
if ! grep -q 'enforce-module-boundaries' <<<"$out"; then
  echo "FAIL: lint failed, but not on module boundaries:"; echo "$out" | tail -20; exit 1
fi
echo "ok: lint rejects an agent lib importing another agent lib (@nx/enforce-module-boundaries)"
