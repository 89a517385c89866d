module.exports = { ...require('../../../jest.preset.js'), displayName: 'agent-orchestrator', rootDir: __dirname };
