module.exports = { ...require('../../jest.preset.js'), displayName: 'skills', rootDir: __dirname };
