module.exports = { ...require('../../jest.preset.js'), displayName: 'replay', rootDir: __dirname };
