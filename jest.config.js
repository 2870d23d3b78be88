// NestJS 12 is published as ES modules only, so the suite runs in Jest's ESM mode
// (npm test passes --experimental-vm-modules) and ts-jest emits ES modules.
// Jest cannot require() an ES module from CommonJS, which @fastify/static (Swagger UI's assets)
// does with content-disposition: that one package is compiled to CommonJS for the tests.
const ESM_REQUIRED_FROM_CJS = ['cookie', 'content-disposition'];

/** @type {import('jest').Config} */
export default {
  moduleFileExtensions: ['js', 'json', 'ts'],
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testRegex: '.*\\.spec\\.ts$',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', useESM: true }],
    [`/node_modules/(${ESM_REQUIRED_FROM_CJS.join('|')})/.+\\.js$`]: [
      'ts-jest',
      {
        useESM: false,
        tsconfig: {
          allowJs: true,
          module: 'commonjs',
          moduleResolution: 'node10',
          ignoreDeprecations: '6.0',
        },
      },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_REQUIRED_FROM_CJS.join('|')})/)`],
  testEnvironment: 'node',
  testTimeout: 60000,
};
