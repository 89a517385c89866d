module.exports = { ...require('../../../jest.preset.js'), displayName: 'agent-aggregator', rootDir: __dirname };
