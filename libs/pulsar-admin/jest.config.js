module.exports = { ...require('../../jest.preset.js'), displayName: 'pulsar-admin', rootDir: __dirname };
