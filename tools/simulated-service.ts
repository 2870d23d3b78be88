// What the platform and campaign demos stand on: the platform emulator, and the service started
// in this process on its own database (PGLITE_DATA_DIR, in memory unless set) against it.
import { type AddressInfo, createServer } from 'node:net';
import { type NestFastifyApplication } from '@nestjs/platform-fastify';
import { type Database } from '../src/app.factory.js';
import { loadConfig } from '../src/config/config.js';
import { type EmulatorOptions, PlatformEmulator } from './platform-emulator.js';

const CREDENTIALS = {
  projectId: 'simulator-project',
  ak: 'SIMULATOR-AK',
  sk: 'simulator-secret-key',
  appId: 'simulator-app',
  secret: 'simulator-secret',
};

export interface SimulatedService {
  emulator: PlatformEmulator;
  /** http://127.0.0.1:<port> */
  url: string;
  /** Stops the service, its database and the emulator. */
  close(): Promise<void>;
}

export async function startSimulatedService(options: {
  platform: 'iotda' | 'oceanconnect';
  emulator?: Pick<EmulatorOptions, 'pushLossRate' | 'random'>;
  /** Settings on top of the demo's. */
  env?: Record<string, string>;
}): Promise<SimulatedService> {
  // The forwarding URL names the service's port, known once it listens.
  const iotda = {
    projectId: CREDENTIALS.projectId,
    credentials: { [CREDENTIALS.ak]: CREDENTIALS.sk },
    forwardingUrl: '',
  };
  const emulator = await PlatformEmulator.start({
    iotda,
    oceanconnect: { appId: CREDENTIALS.appId, secret: CREDENTIALS.secret },
    pushLossRate: 0,
    ...options.emulator,
  });
  const configFor = (port: number) =>
    loadConfig({
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      PGLITE_DATA_DIR: process.env.PGLITE_DATA_DIR ?? 'memory://',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'error',
      CALLBACK_TOKEN: '',
      API_KEYS: '',
      PLATFORM: options.platform,
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      IOTDA_ENDPOINT: emulator.url,
      IOTDA_PROJECT_ID: CREDENTIALS.projectId,
      IOTDA_AK: CREDENTIALS.ak,
      IOTDA_SK: CREDENTIALS.sk,
      OC_BASE_URL: emulator.url,
      OC_APP_ID: CREDENTIALS.appId,
      OC_SECRET: CREDENTIALS.secret,
      PLATFORM_TIMEOUT_MS: '2000',
      ...options.env,
    });
  // Loaded here, so that the simulation against a running service does not load the application.
  const { createApp, openDatabase } = await import('../src/app.factory.js');
  let database: Database | undefined;
  let app: NestFastifyApplication | undefined;
  const close = async () => {
    await app?.close();
    await database?.embedded?.stop();
    await emulator.close();
  };
  try {
    database = await openDatabase(configFor(0));
    // The service's address goes into its configuration (PUBLIC_URL), so the port is chosen
    // first; another process may take it meanwhile, and then the next one is tried.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const candidate = await createApp(configFor(port), database);
      try {
        await candidate.listen({ port, host: '127.0.0.1' });
        app = candidate;
        const url = `http://127.0.0.1:${port}`;
        iotda.forwardingUrl = `${url}/callbacks/iotda`;
        return { emulator, url, close };
      } catch (error) {
        await candidate.close();
        if (attempt >= 5) {
          throw error;
        }
      }
    }
  } catch (error) {
    await close();
    throw error;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
