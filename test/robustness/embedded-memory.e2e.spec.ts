import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ServiceProcess,
  ensureBuilt,
  npmStartNodeOptions,
  startService,
} from '../support/service-process.js';

// The embedded database lives in the service's process, so its memory is the service's. A new data
// directory is made by initdb, whose WebAssembly memory would stay resident for good if it ran in
// the service; the buffers are sized for one node and small loads.
describe('the embedded database in the service process', () => {
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

  it('starts on a new data directory with its peak resident memory under 400 MB', async () => {
    service = await startService(
      { PGLITE_DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
      60_000,
      await npmStartNodeOptions(),
    );
    const status = await readFile(`/proc/${service.child.pid}/status`, 'utf8');
    const peakKb = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1]);
    // initdb in this process took it past 800 MB.
    expect(peakKb * 1024).toBeLessThan(400 * 1024 * 1024);
    expect(await readFile(join(dataDir, 'PG_VERSION'), 'utf8')).toMatch(/^\d+/);
  }, 90_000);
});
