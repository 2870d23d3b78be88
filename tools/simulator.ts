// Behaves like Huawei's IoT platform towards the service: registers commands (optionally), pushes
// their status lifecycle with the platform's habits (duplicates, reordering, a lost DELIVERED, a late
// result after TIMEOUT, re-pushes after a 5xx or no answer), then checks through the query API that
// every command ended where the rank rule says and kept every acknowledged report in its history.
import { type CommandStatus, decide, rankOf } from '../src/commands/command-status.js';

export interface SimulationOptions {
  target: string;
  commands: number;
  concurrency: number;
  register: boolean;
  token?: string;
  apiKey?: string;
  /** The platform waits this long for an answer before treating a push as failed (15 s). */
  pushTimeoutMs: number;
  /** Wait before re-pushing a failed push; the platform re-pushes from its cache. */
  retryDelayMs: number;
  /** The platform gives up re-pushing after about 10 minutes. */
  repushWindowMs: number;
  devices: number;
  seed: number;
}

export interface SimulationSummary {
  commands: number;
  /** HTTP requests made for reports and registrations, re-pushes included. */
  sent: number;
  /** Reports and registrations answered 2xx. */
  acked: number;
  /** Re-pushes after a 501-504 or no answer in time. */
  retried: number;
  /** Pushes given up after the re-push window (never acknowledged). */
  abandoned: number;
  /** Answers the platform does not retry and a correct exchange never gets (4xx, 500). */
  rejected: number;
  duplicatesPushed: number;
  reordered: number;
  outcomes: Record<string, number>;
  finalStatuses: Record<string, number>;
  mismatches: string[];
  elapsedMs: number;
  /** Acknowledged requests per second during the push phase. */
  throughput: number;
}

/** One planned push: a status, and whether it goes out together with the next one (reordering). */
interface Push {
  status: CommandStatus;
  concurrentWithNext: boolean;
}

interface Acked {
  status: CommandStatus;
  source: 'callback' | 'registration';
}

interface CommandRun {
  commandId: string;
  deviceId: string;
  acked: Acked[];
  /** Pushed, never acknowledged: may or may not be stored. */
  unacked: CommandStatus[];
}

/** mulberry32: small, fast and seedable, so a run can be repeated exactly. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A command's lifecycle as the platform reports it: SENT, DELIVERED, then SUCCESSFUL, FAILED or
 * TIMEOUT; sometimes DELIVERED is lost, a result arrives after TIMEOUT, a push is repeated, or two
 * pushes overtake each other.
 */
export function planLifecycle(next: () => number): { pushes: Push[]; duplicates: number } {
  const statuses: CommandStatus[] = ['SENT'];
  if (next() >= 0.05) {
    statuses.push('DELIVERED');
  }
  const end = next();
  if (end < 0.8) {
    statuses.push('SUCCESSFUL');
  } else if (end < 0.9) {
    statuses.push('FAILED');
  } else {
    statuses.push('TIMEOUT');
    if (next() < 0.3) {
      statuses.push('SUCCESSFUL');
    }
  }
  let duplicates = 0;
  const withDuplicates: CommandStatus[] = [];
  for (const status of statuses) {
    withDuplicates.push(status);
    if (next() < 0.1) {
      withDuplicates.push(status);
      duplicates++;
    }
  }
  const pushes = withDuplicates.map((status) => ({
    status,
    concurrentWithNext: next() < 0.15,
  }));
  return { pushes, duplicates };
}

type PushResult =
  { kind: 'acked'; outcome?: string } | { kind: 'retry' } | { kind: 'rejected'; status: number };

const RETRIED_STATUSES = new Set([501, 502, 503, 504]);

/** How far a run has come: which phase, and how many commands are through it. */
export interface SimulationProgress {
  phase: 'pushing' | 'verifying' | 'done';
  done: number;
}

export class PlatformSimulator {
  private readonly next: () => number;
  readonly summary: SimulationSummary;
  readonly progress: SimulationProgress = { phase: 'pushing', done: 0 };

  constructor(private readonly options: SimulationOptions) {
    this.next = random(options.seed);
    this.summary = {
      commands: options.commands,
      sent: 0,
      acked: 0,
      retried: 0,
      abandoned: 0,
      rejected: 0,
      duplicatesPushed: 0,
      reordered: 0,
      outcomes: {},
      finalStatuses: {},
      mismatches: [],
      elapsedMs: 0,
      throughput: 0,
    };
  }

  async run(): Promise<SimulationSummary> {
    const runs: CommandRun[] = [];
    const prefix = `sim-${this.options.seed}-${Date.now().toString(36)}`;
    for (let i = 0; i < this.options.commands; i++) {
      runs.push({
        commandId: `${prefix}-${i}`,
        deviceId: `sim-device-${Math.floor(this.next() * this.options.devices)}`,
        acked: [],
        unacked: [],
      });
    }
    const plans = runs.map(() => planLifecycle(this.next));
    const started = performance.now();
    await this.forEach(runs.length, async (i) => {
      const run = runs[i];
      const plan = plans[i];
      this.summary.duplicatesPushed += plan.duplicates;
      if (this.options.register) {
        await this.deliver(run, 'registration', 'PENDING');
      }
      for (let p = 0; p < plan.pushes.length; p++) {
        const push = plan.pushes[p];
        const following = plan.pushes[p + 1];
        if (push.concurrentWithNext && following !== undefined) {
          this.summary.reordered++;
          // Both in flight at once: the server may see them in either order.
          await Promise.all([
            this.deliver(run, 'callback', following.status),
            this.deliver(run, 'callback', push.status),
          ]);
          p++;
        } else {
          await this.deliver(run, 'callback', push.status);
        }
      }
      this.progress.done++;
    });
    const pushMs = performance.now() - started;
    this.summary.throughput = this.summary.acked / (pushMs / 1000);
    this.progress.phase = 'verifying';
    this.progress.done = 0;
    await this.forEach(runs.length, async (i) => {
      await this.verify(runs[i]);
      this.progress.done++;
    });
    this.progress.phase = 'done';
    this.summary.elapsedMs = performance.now() - started;
    return this.summary;
  }

  /** Runs work(0..count-1) with at most `concurrency` at a time. */
  private async forEach(count: number, work: (index: number) => Promise<void>): Promise<void> {
    let nextIndex = 0;
    const worker = async () => {
      while (nextIndex < count) {
        await work(nextIndex++);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency, count) }, worker));
  }

  /** Pushes until acknowledged, like the platform: re-push after 501-504 or no answer in time. */
  private async deliver(
    run: CommandRun,
    source: 'callback' | 'registration',
    status: CommandStatus,
  ): Promise<void> {
    const firstPush = performance.now();
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) {
        if (performance.now() - firstPush > this.options.repushWindowMs) {
          this.summary.abandoned++;
          run.unacked.push(status);
          return;
        }
        this.summary.retried++;
        await new Promise((resolve) => setTimeout(resolve, this.options.retryDelayMs));
      }
      const result = await this.push(run, source, status);
      if (result.kind === 'acked') {
        this.summary.acked++;
        run.acked.push({ status, source });
        if (result.outcome !== undefined) {
          this.summary.outcomes[result.outcome] = (this.summary.outcomes[result.outcome] ?? 0) + 1;
        }
        return;
      }
      if (result.kind === 'rejected') {
        this.summary.rejected++;
        run.unacked.push(status);
        this.summary.mismatches.push(
          `${run.commandId}: ${source} ${status} answered ${result.status}, which is not retried`,
        );
        return;
      }
    }
  }

  private async push(
    run: CommandRun,
    source: 'callback' | 'registration',
    status: CommandStatus,
  ): Promise<PushResult> {
    this.summary.sent++;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    let url: string;
    let body: unknown;
    if (source === 'callback') {
      url = `${this.options.target}/callbacks/command-status`;
      if (this.options.token !== undefined) {
        headers['x-callback-token'] = this.options.token;
      }
      body = {
        deviceId: run.deviceId,
        commandId: run.commandId,
        result: { resultCode: status, resultDetail: resultDetailOf(status) },
      };
    } else {
      url = `${this.options.target}/commands`;
      this.authorize(headers);
      body = {
        commandId: run.commandId,
        deviceId: run.deviceId,
        serviceId: 'WaterMeter',
        method: 'SET_READ_PERIOD',
        paras: { value: 5 },
        status,
      };
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.pushTimeoutMs),
      });
    } catch {
      // No answer in time, or the connection failed: the platform pushes again.
      return { kind: 'retry' };
    }
    const text = await response.text().catch(() => '');
    if (response.ok) {
      if (source === 'callback') {
        const answer = JSON.parse(text) as { outcome?: string };
        return { kind: 'acked', outcome: answer.outcome };
      }
      return { kind: 'acked' };
    }
    if (RETRIED_STATUSES.has(response.status)) {
      return { kind: 'retry' };
    }
    return { kind: 'rejected', status: response.status };
  }

  private authorize(headers: Record<string, string>): void {
    if (this.options.apiKey !== undefined) {
      headers.authorization = `Bearer ${this.options.apiKey}`;
    }
  }

  /** Reads the command back and checks it against what was acknowledged. */
  private async verify(run: CommandRun): Promise<void> {
    const headers: Record<string, string> = {};
    this.authorize(headers);
    const response = await fetch(
      `${this.options.target}/commands/${encodeURIComponent(run.commandId)}`,
      { headers },
    ).catch(() => undefined);
    if (response?.status !== 200) {
      this.summary.mismatches.push(
        `${run.commandId}: GET answered ${response?.status ?? 'nothing'}`,
      );
      return;
    }
    const command = (await response.json()) as StoredCommand;
    const problems = checkCommand(run, command);
    this.summary.finalStatuses[command.status] =
      (this.summary.finalStatuses[command.status] ?? 0) + 1;
    for (const problem of problems) {
      this.summary.mismatches.push(`${run.commandId}: ${problem}`);
    }
  }
}

interface StoredCommand {
  status: CommandStatus;
  deviceId: string;
  version: number;
  history: { status: CommandStatus; outcome: string; source: string }[];
}

/**
 * The stored command must be what the rank rule makes of its history, its history must hold every
 * acknowledged report, and its status must be the highest rank acknowledged (or one pushed without
 * an answer, which may have been stored all the same).
 */
export function checkCommand(
  run: Pick<CommandRun, 'acked' | 'unacked' | 'deviceId'>,
  command: StoredCommand,
): string[] {
  const problems: string[] = [];
  if (command.deviceId !== run.deviceId) {
    problems.push(`deviceId is ${command.deviceId}, pushed ${run.deviceId}`);
  }
  let replayed: CommandStatus | undefined;
  let applied = 0;
  for (const entry of command.history) {
    const outcome = decide(replayed, entry.status);
    if (outcome !== entry.outcome) {
      problems.push(`history says ${entry.status} was ${entry.outcome}, the rule says ${outcome}`);
    }
    if (outcome === 'applied') {
      replayed = entry.status;
      applied++;
    }
  }
  if (replayed !== command.status) {
    problems.push(`status ${command.status}, its history replays to ${replayed ?? 'nothing'}`);
  }
  if (command.version !== applied) {
    problems.push(`version ${command.version}, ${applied} applied in its history`);
  }
  const stored = new Map<string, number>();
  for (const entry of command.history) {
    const key = `${entry.source}:${entry.status}`;
    stored.set(key, (stored.get(key) ?? 0) + 1);
  }
  const wanted = new Map<string, number>();
  for (const report of run.acked) {
    const key = `${report.source}:${report.status}`;
    wanted.set(key, (wanted.get(key) ?? 0) + 1);
  }
  for (const [key, count] of wanted) {
    if ((stored.get(key) ?? 0) < count) {
      problems.push(`${count} acknowledged ${key} reports, ${stored.get(key) ?? 0} in history`);
    }
  }
  const topRank = Math.max(...run.acked.map((report) => rankOf(report.status)));
  const allowed = new Set(
    [...run.acked.map((report) => report.status), ...run.unacked].filter(
      (status) => rankOf(status) >= topRank,
    ),
  );
  if (!allowed.has(command.status)) {
    problems.push(`final status ${command.status}, expected one of ${[...allowed].join(', ')}`);
  }
  return problems;
}

function resultDetailOf(status: CommandStatus): unknown {
  if (status === 'SUCCESSFUL') {
    return { value: 1 };
  }
  return status === 'FAILED' ? { reason: 'send command failed' } : null;
}

export function runSimulation(options: SimulationOptions): Promise<SimulationSummary> {
  return new PlatformSimulator(options).run();
}

export function formatSummary(summary: SimulationSummary): string {
  const counts = (record: Record<string, number>) =>
    Object.entries(record)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, value]) => `${key} ${value}`)
      .join(', ') || '-';
  const lines = [
    `commands        ${summary.commands}`,
    `sent            ${summary.sent} (${summary.duplicatesPushed} duplicate pushes, ${summary.reordered} reordered pairs)`,
    `acked           ${summary.acked}`,
    `retried         ${summary.retried}`,
    `abandoned       ${summary.abandoned}`,
    `rejected        ${summary.rejected}`,
    `outcomes        ${counts(summary.outcomes)}`,
    `final statuses  ${counts(summary.finalStatuses)}`,
    `mismatches      ${summary.mismatches.length}`,
    `throughput      ${summary.throughput.toFixed(0)} acknowledged requests/s`,
    `elapsed         ${(summary.elapsedMs / 1000).toFixed(1)} s (pushes and verification)`,
  ];
  for (const mismatch of summary.mismatches.slice(0, 20)) {
    lines.push(`  ${mismatch}`);
  }
  if (summary.mismatches.length > 20) {
    lines.push(`  ... and ${summary.mismatches.length - 20} more`);
  }
  return lines.join('\n');
}
