import { readFile } from 'node:fs/promises';
import { openApiDocument, openApiText } from '../src/http/openapi.js';
import { type TestApp, startTestApp } from './support/test-app.js';

describe('docs/openapi.json', () => {
  let service: TestApp;

  beforeAll(async () => {
    service = await startTestApp();
  });

  afterAll(async () => {
    await service.close();
  });

  it('is the document the routes generate (run `npm run openapi` after changing a route)', async () => {
    const committed = await readFile(new URL('../docs/openapi.json', import.meta.url), 'utf8');
    expect(committed).toBe(openApiText(openApiDocument(service.app)));
  });

  it('is the document the service serves at /docs-json', async () => {
    const served = await service.app.inject({ method: 'GET', url: '/docs-json' });
    const committed = await readFile(new URL('../docs/openapi.json', import.meta.url), 'utf8');
    expect(served.json()).toEqual(JSON.parse(committed));
  });
});
