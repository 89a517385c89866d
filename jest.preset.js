// Shared Jest settings: SWC transpiles TypeScript (with the decorator metadata NestJS and
// class-validator need); tsconfig path aliases map to library sources. Type checking is
// `npm run typecheck`, kept out of the test loop for speed on small machines.
const path = require('path');
const { compilerOptions } = require('./tsconfig.base.json');

const moduleNameMapper = {};
for (const [alias, [target]] of Object.entries(compilerOptions.paths)) {
  moduleNameMapper[`^${alias.replace(/[/.]/g, '\\$&')}$`] = path.join(__dirname, target);
}

module.exports = {
  testEnvironment: 'node',
  reporters: ['default', path.join(__dirname, 'tools/jest-summary-reporter.js')],
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['**/?(*.)+(spec|test).ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
        sourceMaps: 'inline',
      },
    ],
    '/node_modules/@nestjs/terminus/.+\\.js$': path.join(__dirname, 'tools/jest-esm-transform.js'),
    // jose ships ES modules only: compiled to CommonJS for Jest (Node itself require()s it as is)
    '/node_modules/jose/.+\\.js$': ['@swc/jest', { module: { type: 'commonjs' } }],
  },
  moduleNameMapper,
  // ESM-only packages, compiled to CommonJS for Jest (the two transforms above).
  transformIgnorePatterns: ['/node_modules/(?!(jose|@nestjs/terminus)/)'],
  testTimeout: 30000,
};
