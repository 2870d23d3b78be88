import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ServiceProcess,
  databaseProcess,
  ensureBuilt,
  npmStartNodeOptions,
  residentMb,
  startService,
} from '../support/service-process.js';

// The embedded database runs in a child process of the service: its memory (mostly PGlite's
// WebAssembly heap) is that process's, not the service's. A new data directory is made by initdb in
// a short-lived process of its own, whose WebAssembly memory would otherwise stay resident in the
// database's process for good; the buffers are sized for one node and small loads.
describe('the embedded database in its own process', () => {
  let dataDir: string;
  let service: ServiceProcess | undefined;

  beforeAll(async () => {
    await ensureBuilt();
    dataDir = await mkdtemp(join(tmpdir(), 'ct-embedded-memory-'));
  });

  afterAll(async () => {
    await service?.kill();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts on a new data directory with the service under 256 MB and the database apart', async () => {
    service = await startService(
      { PGLITE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
      90_000,
      await npmStartNodeOptions(),
    );
    const own = await residentMb(service.child.pid ?? 0);
    const database = await residentMb(await databaseProcess(service));
    const figures =
      `service: ${own.rss} MB resident (peak ${own.peak} MB); ` +
      `database process: ${database.rss} MB (peak ${database.peak} MB)`;
    // The service's peak, which includes start-up and migrations.
    expect({ figures, serviceUnder256Mb: own.peak < 256 }).toEqual({
      figures,
      serviceUnder256Mb: true,
    });
    // initdb in the database's process took it past 700 MB; reopening a directory, about 170 MB.
    expect({ figures, databaseUnder400Mb: database.peak < 400 }).toEqual({
      figures,
      databaseUnder400Mb: true,
    });
    expect(await readFile(join(dataDir, 'PG_VERSION'), 'utf8')).toMatch(/^\d+/);
  }, 120_000);
});
