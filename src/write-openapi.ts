import 'reflect-metadata';
import { writeFile } from 'node:fs/promises';
import { loadConfig } from './config/config.js';
import { createApp, openDatabase } from './app.factory.js';
import { openApiDocument, openApiText } from './http/openapi.js';

// `npm run openapi`: writes docs/openapi.json from the routes, on a throwaway embedded database
// (the document depends on the code only, not on configuration or data).
const OUTPUT = process.argv[2] ?? 'docs/openapi.json';

const config = {
  ...loadConfig({ LOG_LEVEL: 'silent' }),
  databaseUrl: undefined,
  pgliteDataDir: 'memory://',
};
const database = await openDatabase(config);
const app = await createApp(config, database);
await writeFile(OUTPUT, openApiText(openApiDocument(app)));
await app.close();
await database.embedded?.stop();
console.log(`Wrote ${OUTPUT}`);
