#!/usr/bin/env bash
# `npm test`: every project's Jest suite through Nx, then one closing line for the workspace.
set -uo pipefail
cd "$(dirname "$0")/.."
rm -rf tmp/test-results
npx nx run-many -t test --parallel=2 --outputStyle=stream "$@"
code=$?
node -e '
  const fs = require("fs"), dir = "tmp/test-results";
  const runs = fs.existsSync(dir) ? fs.readdirSync(dir).map((f) => JSON.parse(fs.readFileSync(`${dir}/${f}`, "utf8"))) : [];
  const sum = (k) => runs.reduce((n, r) => n + r[k], 0);
  for (const r of runs.sort((a, b) => a.project.localeCompare(b.project)))
    console.log(`  ${r.project.padEnd(26)} ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`);
  console.log(`tests: ${sum("passed")} passed, ${sum("failed")} failed, ${sum("skipped")} skipped`);
'
exit $code
