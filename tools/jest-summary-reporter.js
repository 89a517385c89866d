// Records each Jest run's counts so tools/run-tests.sh can print one closing line for the
// whole workspace (Nx runs one Jest per project).
const fs = require('fs');
const path = require('path');

class SummaryReporter {
  constructor(globalConfig) {
    this.name = path.relative(path.join(__dirname, '..'), globalConfig.rootDir).replace(/[\\/]/g, '-') || 'root';
  }

  onRunComplete(_contexts, results) {
    const dir = path.join(__dirname, '..', 'tmp', 'test-results');
    fs.mkdirSync(dir, { recursive: true });
    const record = {
      project: this.name,
      passed: results.numPassedTests,
      failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
      skipped: results.numPendingTests + results.numTodoTests,
    };
    fs.writeFileSync(path.join(dir, `${this.name}-${process.pid}.json`), JSON.stringify(record));
  }
}

module.exports = SummaryReporter;
