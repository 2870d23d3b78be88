import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../src/config/config.js';
import { eventually } from './support/eventually.js';
import { freePort } from './support/service-process.js';
import { type TestApp, startTestApp } from './support/test-app.js';

// What can be checked of the image and the compose file without a Docker engine: their text,
// the build output they ship, and the commands they run.

const ROOT = resolve(import.meta.dirname, '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const packageJson = JSON.parse(read('package.json')) as {
  engines: { node: string };
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
};

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  from: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** The Dockerfile's instructions by stage, continuation lines joined, comments dropped. */
function dockerfile(): { args: Map<string, string>; stages: Stage[] } {
  const lines = read('Dockerfile')
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword, rest] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    const instruction = { keyword: keyword.toUpperCase(), args: rest.trim() };
    if (instruction.keyword === 'FROM') {
      const [, image, name] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args) ?? [];
      const from = image.replace(/\$\{(\w+)\}/g, (_, arg: string) => args.get(arg) ?? '');
      stages.push({ from, name, instructions: [] });
    } else if (stages.length === 0 && instruction.keyword === 'ARG') {
      const [name, value] = instruction.args.split('=');
      args.set(name, value);
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return { args, stages };
}

const { stages } = dockerfile();
const [buildStage, runtimeStage] = stages;
const all = (stage: Stage, keyword: string) =>
  stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
const only = (stage: Stage, keyword: string) => {
  const found = all(stage, keyword);
  expect(found).toHaveLength(1);
  return found[0];
};

/**
 * Values of `${NAME:-default}`, `${NAME:?message}` and `${NAME}` as docker compose sees them with
 * only `set` in the environment; a required one that is not set throws its message, as compose does.
 */
function withDefaults(value: unknown, set: Record<string, string> = {}): string {
  return String(value).replace(
    /\$\{(\w+)(?:(:?-|:?\?)([^}]*))?\}/g,
    (_, name: string, operator?: string, operand?: string) => {
      const given = set[name];
      if (given !== undefined && given !== '') {
        return given;
      }
      if (operator?.endsWith('?')) {
        throw new Error(`required variable ${name} is missing a value: ${operand}`);
      }
      return operand ?? '';
    },
  );
}

interface ComposeService {
  image?: string;
  build?: unknown;
  profiles?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  healthcheck?: { test: string[] | string };
  deploy?: { resources?: { limits?: { memory?: string } } };
}
const compose = parseYaml(read('docker-compose.yml')) as {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
};
const service = compose.services['command-tracker'];
const postgres = compose.services.postgres;
// What a user sets in .env before `docker compose up`, as .env.example asks.
const USER_SECRETS = {
  CALLBACK_TOKEN: 'f'.repeat(48),
  API_KEYS: 'e'.repeat(48),
  POSTGRES_PASSWORD: 'd'.repeat(48),
};
const REQUIRED = Object.keys(USER_SECRETS);
const composeEnv = (set: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(service.environment ?? {}).map(([name, value]) => [
      name,
      withDefaults(value, set),
    ]),
  );
const serviceEnv = composeEnv(USER_SECRETS);

/** The built service, made when missing (CI builds before testing). */
function ensureBuilt(): void {
  if (!existsSync(join(ROOT, 'dist/src/main.js'))) {
    const tsc = spawnSync(
      process.execPath,
      [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(tsc.stdout + tsc.stderr).toBe('');
  }
}

// Static imports and re-exports as tsc emits them, each starting a line.
const IMPORT = /^(?:import|export)\s(?:[^'";]*?\sfrom\s)?['"]([^'"]+)['"];?$/gm;

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.js'))
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('Dockerfile', () => {
  beforeAll(ensureBuilt);

  it('builds in one stage and runs from another on the same Node.js image', () => {
    expect(stages).toHaveLength(2);
    expect(buildStage.from).toBe(runtimeStage.from);
    expect(buildStage.from).toMatch(/^node:\d+(\.\d+)*-(bookworm|bullseye)-slim$/);
  });

  it('uses a Node.js major version that package.json engines allows', () => {
    const major = Number(/^node:(\d+)/.exec(buildStage.from)?.[1]);
    const minimum = /^>=\s*(\d+)(\.\d+)*$/.exec(packageJson.engines.node.trim());
    expect(minimum).not.toBeNull();
    expect(major).toBeGreaterThanOrEqual(Number(minimum?.[1]));
    // The version this suite runs on is the one the image is known to work with.
    expect(major).toBe(Number(process.versions.node.split('.')[0]));
  });

  it('installs from the lock file and builds with npm run build', () => {
    const runs = all(buildStage, 'RUN').join('\n');
    expect(runs).toMatch(/npm ci\b/);
    expect(runs).toContain('npm run build');
    expect(packageJson.scripts.build).toBe('tsc -p tsconfig.build.json && npm run build:dashboard');
    // The operations page builds from src/, which the build stage copies whole.
    expect(packageJson.scripts['build:dashboard']).toContain('src/dashboard/page/tsconfig.json');
  });

  it('runs with production dependencies only, as the unprivileged node user', () => {
    const runs = all(runtimeStage, 'RUN').join('\n');
    expect(runs).toMatch(/npm ci --omit=dev\b/);
    expect(only(runtimeStage, 'USER')).toBe('node');
    expect(all(runtimeStage, 'ENV').join(' ')).toMatch(/NODE_ENV=production/);
  });

  it('starts with what npm start runs, a file the build makes, with a bounded heap', () => {
    const cmd = JSON.parse(only(runtimeStage, 'CMD')) as string[];
    expect(cmd).toEqual(['sh', 'bin/start']);
    expect(packageJson.scripts.start).toBe(cmd.join(' '));
    expect(all(runtimeStage, 'COPY')).toContain('bin ./bin');
    // The runtime settings live in bin/start only: neither here nor in NODE_OPTIONS.
    const env = all(runtimeStage, 'ENV').join(' ');
    expect(env).not.toMatch(/GLIBC_TUNABLES|NODE_OPTIONS/);
    const script = read('bin/start');
    // exec: node replaces the shell, so SIGTERM reaches the service.
    const [, node, main] = /^exec (node) .*?(\S+)$/m.exec(script) ?? [];
    expect(node).toBe('node');
    expect(script).toMatch(/^exec node .*--max-old-space-size=\d+/m);
    expect(script).toMatch(/^export GLIBC_TUNABLES=/m);
    expect(existsSync(join(ROOT, main))).toBe(true);
  });

  it('runs bin/start as npm start does: it starts the service, which stops on SIGTERM', async () => {
    const port = await freePort();
    // node on the PATH is the one running these tests, as npm puts node_modules/.bin first.
    const child = spawn('sh', [join(ROOT, 'bin/start')], {
      env: {
        PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
        PORT: String(port),
        HOST: '127.0.0.1',
        PGLITE_DATA_DIR: 'memory://',
        LOG_LEVEL: 'warn',
      },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    try {
      await eventually(
        () =>
          fetch(`http://127.0.0.1:${port}/health/live`).then(
            (response) => response.ok,
            () => false,
          ),
        50_000,
        () => 'bin/start did not serve /health/live',
      );
      // The shell was replaced by node: its pid is the service's, with the heap settings.
      const cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
      expect(cmdline).toContain('--max-old-space-size=128');
      expect(cmdline.at(-2)).toBe('dist/src/main.js');
      const environ = readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0');
      expect(environ).toContain('GLIBC_TUNABLES=glibc.malloc.trim_threshold=16777216');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('ships every file the service imports at run time, and only production dependencies', () => {
    const shipped = all(runtimeStage, 'COPY')
      .filter((args) => args.startsWith('--from=build'))
      .map((args) => args.split(/\s+/)[1].replace(/^\/app\//, ''));
    expect(shipped).toEqual(expect.arrayContaining(['dist/src', 'dist/migrations']));
    const isShipped = (file: string) =>
      shipped.some((dir) => !relative(join(ROOT, dir), file).startsWith('..'));

    const dependencies = new Set(Object.keys(packageJson.dependencies));
    const builtins = new Set(builtinModules);
    const missing: string[] = [];
    for (const file of filesUnder(join(ROOT, 'dist/src'))) {
      const source = readFileSync(file, 'utf8');
      for (const [, specifier] of source.matchAll(IMPORT)) {
        if (specifier.startsWith('.')) {
          const target = resolve(dirname(file), specifier);
          if (!existsSync(target) || !isShipped(target)) {
            missing.push(`${relative(ROOT, file)} imports ${specifier}`);
          }
          continue;
        }
        const name = specifier.startsWith('@')
          ? specifier.split('/').slice(0, 2).join('/')
          : specifier.split('/')[0];
        if (!builtins.has(specifier.replace(/^node:/, '')) && !dependencies.has(name)) {
          missing.push(`${relative(ROOT, file)} imports ${specifier}, not a production dependency`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('exposes the port it listens on', () => {
    expect(only(runtimeStage, 'EXPOSE')).toBe('3000');
    expect(all(runtimeStage, 'ENV').join(' ')).toMatch(/PORT=3000\b/);
  });

  it('keeps build output, dependencies, data and secrets out of the build context', () => {
    const ignored = read('.dockerignore')
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    expect(ignored).toEqual(
      expect.arrayContaining(['node_modules', 'dist', 'data', '.git', '.env']),
    );
    for (const needed of ['src', 'migrations', 'package.json', 'package-lock.json']) {
      expect(ignored).not.toContain(needed);
    }
    const copied = [...all(buildStage, 'COPY'), ...all(runtimeStage, 'COPY')]
      .filter((args) => !args.startsWith('--from'))
      .flatMap((args) => args.split(/\s+/).slice(0, -1));
    for (const source of copied) {
      expect(existsSync(join(ROOT, source))).toBe(true);
      expect(ignored).not.toContain(source);
    }
  });

  describe('HEALTHCHECK', () => {
    let t: TestApp;
    let port: number;

    beforeAll(async () => {
      t = await startTestApp();
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      port = Number(new URL(await t.app.getUrl()).port);
    });

    afterAll(async () => {
      await t.close();
    });

    const healthcheck = () => {
      const args = only(runtimeStage, 'HEALTHCHECK');
      const [, options, command] = /^(.*?)CMD\s+(\[.*\])$/.exec(args) ?? [];
      return { options, command: JSON.parse(command) as string[] };
    };
    // Asynchronous: the service answering it runs in this process.
    const run = (command: string[], env: Record<string, string>) =>
      new Promise<number | null>((done) => {
        const child = execFile(
          command[0] === 'node' ? process.execPath : command[0],
          command.slice(1),
          { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 10_000 },
          () => done(child.exitCode),
        );
      });

    it('asks /health/ready with node (no curl in slim images), within a timeout', () => {
      const { options, command } = healthcheck();
      expect(command.slice(0, 2)).toEqual(['node', '-e']);
      expect(command[2]).toContain('/health/ready');
      expect(options).toMatch(/--timeout=\d+s/);
      expect(options).toMatch(/--start-period=\d+s/);
    });

    it('passes against a running service on PORT', async () => {
      expect(await run(healthcheck().command, { PORT: String(port) })).toBe(0);
    });

    it('fails when nothing answers', async () => {
      expect(await run(healthcheck().command, { PORT: '1' })).toBe(1);
    });
  });
});

describe('docker-compose.yml', () => {
  it('runs PostgreSQL with a volume and a health check', () => {
    expect(postgres.image).toMatch(/^postgres:\d+/);
    const [volume] = postgres.volumes ?? [];
    expect(volume).toMatch(/^(\w+):\/var\/lib\/postgresql\/data$/);
    expect(compose.volumes).toHaveProperty(volume.split(':')[0]);
    expect(JSON.stringify(postgres.healthcheck?.test)).toContain('pg_isready');
  });

  it('builds the service from this Dockerfile and starts it once PostgreSQL is healthy', () => {
    expect(service.build).toBe('.');
    expect(service.depends_on?.postgres).toEqual({ condition: 'service_healthy' });
  });

  it('runs RabbitMQ and NATS only with their profiles, and the service without them', () => {
    const { rabbitmq, nats } = compose.services;
    expect(rabbitmq.profiles).toEqual(['rabbitmq']);
    expect(rabbitmq.image).toMatch(/^rabbitmq:4/);
    expect(rabbitmq.ports).toBeUndefined();
    expect(service.depends_on?.rabbitmq).toEqual({ condition: 'service_healthy', required: false });
    expect(nats.profiles).toEqual(['nats']);
    expect(nats.ports).toBeUndefined();
    for (const [name, other] of Object.entries(compose.services)) {
      if (name !== 'rabbitmq' && name !== 'nats') {
        expect(other.profiles).toBeUndefined();
      }
    }
  });

  it('limits the memory of every container', () => {
    for (const [name, other] of Object.entries(compose.services)) {
      const limit = withDefaults(other.deploy?.resources?.limits?.memory);
      expect(`${name}: ${limit}`).toMatch(new RegExp(`^${name}: \\d+[mg]$`));
    }
  });

  it('passes every setting of the service through, platform and AMQP included', () => {
    // Every variable config.ts reads, except those the image or compose fixes on purpose.
    const fixed = ['HOST', 'PORT', 'NODE_ENV', 'PGLITE_DATA_DIR', 'AUTH_DISABLED', 'DATABASE_URL'];
    const configured = [
      ...read('src/config/config.ts').matchAll(
        /\b(?:optionalString|requiredString|integer|boolean|oneOf|httpUrl)\(env, '([A-Z_0-9]+)'/g,
      ),
    ].map(([, name]) => name);
    expect(configured).toEqual(expect.arrayContaining(['PLATFORM', 'IOTDA_AMQP_URL', 'OC_SECRET']));
    const passed = Object.keys(service.environment ?? {});
    expect(configured.filter((name) => !fixed.includes(name) && !passed.includes(name))).toEqual(
      [],
    );
  });

  it('documents in .env.example every variable it reads, and only those', () => {
    const text = read('docker-compose.yml');
    const interpolated = new Set([...text.matchAll(/\$\{(\w+)/g)].map(([, name]) => name));
    const example = read('.env.example')
      .split(/\r?\n/)
      .filter((line) => /^\w+=/.test(line))
      .map((line) => line.split('=')[0]);
    expect(new Set(example)).toEqual(interpolated);
    // The required secrets are left empty there, so a copied file stops compose until filled in.
    for (const name of REQUIRED) {
      expect(read('.env.example')).toMatch(new RegExp(`^${name}=$`, 'm'));
    }
  });

  it('publishes the port the image exposes and the service listens on', () => {
    const [mapping] = service.ports ?? [];
    const containerPort = withDefaults(mapping).split(':').at(-1);
    expect(containerPort).toBe(only(runtimeStage, 'EXPOSE'));
    expect(serviceEnv.PORT).toBe(containerPort);
  });

  it('points DATABASE_URL at the compose PostgreSQL with its user and database', () => {
    const url = new URL(serviceEnv.DATABASE_URL);
    const pgEnv = Object.fromEntries(
      Object.entries(postgres.environment ?? {}).map(([name, value]) => [
        name,
        withDefaults(value, USER_SECRETS),
      ]),
    );
    expect(url.hostname).toBe('postgres');
    expect(url.port).toBe('5432');
    expect(url.username).toBe(pgEnv.POSTGRES_USER);
    expect(url.password).toBe(pgEnv.POSTGRES_PASSWORD);
    expect(url.pathname).toBe(`/${pgEnv.POSTGRES_DB}`);
  });

  it('gives the service a configuration that starts in production once the user sets the secrets', () => {
    expect(serviceEnv.NODE_ENV).toBe('production');
    const config = loadConfig(serviceEnv);
    expect(config.production).toBe(true);
    expect(config.databaseUrl).toBe(serviceEnv.DATABASE_URL);
    expect(config.callbackToken).toBe(USER_SECRETS.CALLBACK_TOKEN);
    expect(config.apiKeys).toEqual([USER_SECRETS.API_KEYS]);
  });

  it.each(['CALLBACK_TOKEN', 'API_KEYS'])(
    'stops docker compose with a message when %s is unset, and has no placeholder for it',
    (name) => {
      const raw = String(service.environment?.[name]);
      expect(raw).toMatch(new RegExp(`^\\$\\{${name}:\\?.*16 characters.*\\}$`));
      expect(raw).not.toMatch(/change-me/i);
      const others = { ...USER_SECRETS, [name]: '' };
      expect(() => composeEnv(others)).toThrow(`required variable ${name}`);
    },
  );

  it('stops docker compose when POSTGRES_PASSWORD is unset, with no default password', () => {
    const text = read('docker-compose.yml');
    const uses = [...text.matchAll(/\$\{POSTGRES_PASSWORD([^}]*)\}/g)].map(([, rest]) => rest);
    expect(uses.length).toBeGreaterThanOrEqual(2);
    for (const rest of uses) {
      expect(rest).toMatch(/^:\?/);
    }
    expect(() => composeEnv({ ...USER_SECRETS, POSTGRES_PASSWORD: '' })).toThrow(
      'required variable POSTGRES_PASSWORD',
    );
  });

  it('relies on the image health check for the service', () => {
    expect(service.healthcheck).toBeUndefined();
    expect(all(runtimeStage, 'HEALTHCHECK')).toHaveLength(1);
  });
});

describe('the built service (node dist/src/main.js)', () => {
  beforeAll(ensureBuilt);

  it.each([
    ['PORT', { PORT: 'abc' }],
    ['DB_POOL_SIZE', { DB_POOL_SIZE: '0' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://db/tracker' }],
    ['CALLBACK_TOKEN', { NODE_ENV: 'production' }],
  ])('exits non-zero at start-up with a message naming %s', (variable, env) => {
    const result = spawnSync(process.execPath, [join(ROOT, 'dist/src/main.js')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', ...env },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    // One JSON line, like every other the service writes (stdout is not a terminal here).
    const line = JSON.parse(result.stdout.trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 60, variable });
    expect(line.msg).toContain(`Invalid configuration: ${variable}`);
  });
});
