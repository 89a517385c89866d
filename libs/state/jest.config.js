module.exports = { ...require('../../jest.preset.js'), displayName: 'state', rootDir: __dirname };
