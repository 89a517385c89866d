module.exports = { ...require('../../jest.preset.js'), displayName: 'llm-gateway', rootDir: __dirname };
