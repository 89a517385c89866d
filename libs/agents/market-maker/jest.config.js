module.exports = { ...require('../../../jest.preset.js'), displayName: 'agent-market-maker', rootDir: __dirname };
