module.exports = { ...require('../../../jest.preset.js'), displayName: 'agent-saga-coordinator', rootDir: __dirname };
