// NestJS 12 is published as ES modules only, so the suite runs in Jest's ESM mode
// (npm test passes --experimental-vm-modules) and ts-jest emits ES modules. CommonJS packages that
// require() an ES module (@fastify/static does, for Swagger UI's assets) rely on Node.js 24's
// require(esm), which Jest follows.

/** @type {import('jest').Config} */
export default {
  moduleFileExtensions: ['js', 'json', 'ts'],
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testRegex: '.*\\.spec\\.ts$',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', useESM: true }],
  },
  testEnvironment: 'node',
  // Nest's default logger prints debug lines of code run without an application: see the file.
  setupFiles: ['<rootDir>/test/support/nest-logger-setup.ts'],
  testTimeout: 60000,
};
