// Jest transform for the ESM-only packages in node_modules (@nestjs/terminus 12): compiles them
// to CommonJS with SWC, since Jest (unlike Node >= 20.19, which the agents run on) cannot
// require an ES module. `import.meta` has no CommonJS form: its two uses there become their
// CommonJS equivalents first.
const crypto = require('crypto');
const fs = require('fs');
const swc = require('@swc/core');

const self = fs.readFileSync(__filename, 'utf8');

module.exports = {
  getCacheKey(source, filename) {
    return crypto.createHash('sha256').update(self).update(filename).update(source).digest('hex');
  },
  process(source, filename) {
    const cjsSource = source
      .replace(/import\.meta\.url/g, '`file://${__filename}`')
      .replace(/import\.meta\.resolve\(/g, 'require.resolve(');
    const { code, map } = swc.transformSync(cjsSource, {
      swcrc: false,
      filename,
      sourceMaps: 'inline',
      jsc: { parser: { syntax: 'ecmascript' }, target: 'es2022' },
      module: { type: 'commonjs' },
    });
    return { code, map };
  },
};
