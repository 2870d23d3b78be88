import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PlatformEmulator } from '../../tools/platform-emulator.js';
import { OceanConnectClient } from '../../src/platform/oceanconnect.client.js';
import { PlatformUnreachableError } from '../../src/platform/platform-client.js';
import { OC_APP, platformConfig } from '../support/platform.js';

// A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl.
function makeCertificates(dir: string): void {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '1',
    '-subj',
    '/CN=test-ca',
  );
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const name of ['server', 'client']) {
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name}`,
    );
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '1',
      ...(name === 'server' ? ['-extfile', 'server.ext'] : []),
    );
  }
}

describe('legacy mutual TLS', () => {
  let dir: string;
  let emulator: PlatformEmulator;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'oc-mtls-'));
    makeCertificates(dir);
    const file = (name: string) => readFileSync(join(dir, name), 'utf8');
    emulator = await PlatformEmulator.start({
      oceanconnect: OC_APP,
      tls: { key: file('server.key'), cert: file('server.pem'), ca: file('ca.pem') },
    });
  });

  afterAll(async () => {
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const client = (files: Record<string, string>) => {
    const config = platformConfig('oceanconnect', emulator, files);
    return new OceanConnectClient(config, 2000, () => undefined);
  };
  const request = {
    deviceId: 'd-1',
    serviceId: 'S',
    method: 'M',
    paras: {},
    timeoutSeconds: undefined,
    sendStrategy: 'immediately',
  } as const;

  it('presents OC_CERT_FILE/OC_KEY_FILE and trusts OC_CA_FILE', async () => {
    const oc = client({
      OC_CERT_FILE: join(dir, 'client.pem'),
      OC_KEY_FILE: join(dir, 'client.key'),
      OC_CA_FILE: join(dir, 'ca.pem'),
    });
    await expect(oc.create(request)).resolves.toMatchObject({ status: 'PENDING' });
  });

  it('cannot reach the platform without a client certificate', async () => {
    const oc = client({ OC_CA_FILE: join(dir, 'ca.pem') });
    await expect(oc.create(request)).rejects.toBeInstanceOf(PlatformUnreachableError);
  });
});
