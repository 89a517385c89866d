module.exports = { ...require('../../jest.preset.js'), displayName: 'nest-pulsar', rootDir: __dirname };
