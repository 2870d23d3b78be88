import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { isDatabaseError } from '../database/database-errors.js';
import { type DispatchOutcome, intentStateOf } from './dispatch-outcome.js';
import { type DispatchIntent, DispatchRepository } from './dispatch.repository.js';
import { type PlatformClient, type PlatformCommand } from './platform-client.js';
import { PlatformAnswers } from './platform-answers.js';
import { PlatformMetrics } from './platform-metrics.js';
import { PLATFORM_CLIENT } from './platform-problem.js';
import { type CommandStatus, rankOf } from '../commands/command-status.js';
import { PollLoop } from '../scheduling/poll-loop.js';
import { PlatformService, canonicalJson } from './platform.service.js';

/** What one pass did. */
export interface ReconcilePass {
  /** Open commands looked up on the platform. */
  checked: number;
  /** Lost dispatches found on the platform (and now tracked). */
  found: number;
  /** Lookups that failed (the platform refused or did not answer). */
  failed: number;
}

// A platform clock may run behind this service's: a lost dispatch's command is searched from a
// little before its intent was recorded.
const CLOCK_SLACK_MS = 60_000;
// Unresolved dispatches searched per pass; the rest wait for the next pass.
const MAX_INTENTS_PER_PASS = 100;
// Open commands looked up per pass, at most (the budget usually bounds it first).
const MAX_COMMANDS_PER_PASS = 1000;
// After PLATFORM_TIMEOUT_MS plus this, a dispatch still waiting for the platform is taken as lost
// (its instance stopped, or its database write failed after the platform answered).
const STUCK_AFTER_MS = 5000;

class Stopped extends Error {}

/**
 * Every RECONCILE_INTERVAL_SECONDS: searches the platform for dispatches whose answer was lost,
 * then looks up open commands without news for RECONCILE_AFTER_SECONDS; what it reads goes
 * through the rule with source reconcile. Every platform call takes a token from a budget shared
 * by all instances (RECONCILE_RATE a second), and each command is claimed by one instance per
 * period, so more instances do not mean more calls.
 */
@Injectable()
export class Reconciler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(Reconciler.name);
  private readonly loop = new PollLoop(
    async () => {
      await this.pass();
      return this.intervalMs;
    },
    (error) => {
      if (!(error instanceof Stopped)) {
        this.metrics.reconciliationFailed(isDatabaseError(error) ? 'database' : 'platform');
        this.logger.warn(
          { err: describe(error) },
          'A reconciliation pass failed; the next one runs later',
        );
      }
      return this.intervalMs;
    },
  );
  private readonly stopping = new AbortController();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(PLATFORM_CLIENT) private readonly client: PlatformClient | null,
    private readonly intents: DispatchRepository,
    private readonly platform: PlatformService,
    private readonly answers: PlatformAnswers,
    private readonly metrics: PlatformMetrics,
  ) {}

  onApplicationBootstrap(): void {
    if (this.client !== null) {
      this.loop.start(this.intervalMs);
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    const stopped = this.loop.stop();
    this.stopping.abort();
    await stopped;
  }

  private get intervalMs(): number {
    return this.config.reconcileIntervalSeconds * 1000;
  }

  /** One pass: lost dispatches first, then stale open commands. */
  async pass(): Promise<ReconcilePass> {
    const client = this.client;
    const result: ReconcilePass = { checked: 0, found: 0, failed: 0 };
    if (client === null) {
      return result;
    }
    await this.intents.purgeExpired();
    const stuckSeconds = Math.ceil((this.config.platformTimeoutMs + STUCK_AFTER_MS) / 1000);
    const unresolved = await this.intents.claimUnresolved(
      stuckSeconds,
      this.config.reconcileIntervalSeconds / 2,
      MAX_INTENTS_PER_PASS,
    );
    for (const intent of unresolved) {
      try {
        if (await this.findLostDispatch(client, intent)) {
          result.found++;
        }
      } catch (error) {
        this.rethrowUnlessPlatform(error);
        result.failed++;
      }
    }
    const limit = Math.min(
      MAX_COMMANDS_PER_PASS,
      this.config.reconcileRate * this.config.reconcileIntervalSeconds,
    );
    const stale = await this.intents.claimStaleCommands(this.config.reconcileAfterSeconds, limit);
    for (const command of stale) {
      try {
        const found = await client.show(command, this.gate);
        result.checked++;
        if (found !== undefined && learnsSomething(command.status, found.status)) {
          await this.platform.reportFound(found, command.deviceId);
        }
      } catch (error) {
        this.rethrowUnlessPlatform(error);
        result.failed++;
      }
    }
    return result;
  }

  /**
   * Lists the device's commands since the intent and takes the earliest one with the same
   * serviceId, method and paras that no other dispatch holds. None found once no call for the
   * intent can still be running: the platform has no such command, and the dispatch is refused.
   */
  private async findLostDispatch(
    client: PlatformClient,
    intent: DispatchIntent & { callOver: boolean },
  ): Promise<boolean> {
    const since = new Date(intent.createdAt.getTime() - CLOCK_SLACK_MS);
    const paras = canonicalJson(intent.paras);
    const matches = (await client.recent(intent.deviceId, since, this.gate))
      .filter(
        (command) =>
          command.serviceId === intent.serviceId &&
          command.method === intent.method &&
          canonicalJson(command.paras) === paras,
      )
      .sort(byCreation);
    const held = await this.intents.claimedCommandIds(matches.map((command) => command.commandId));
    for (const command of matches.filter((candidate) => !held.has(candidate.commandId))) {
      await this.platform.reportFound(command, intent.deviceId, intent);
      if (await this.settle(intent, { kind: 'created', commandId: command.commandId })) {
        this.logger.log(
          { commandId: command.commandId, deviceId: intent.deviceId },
          'Found a dispatch whose answer was lost',
        );
        return true;
      }
    }
    if (intent.callOver) {
      await this.settle(intent, { kind: 'not-created' });
    }
    return false;
  }

  /**
   * Settles the intent by what the search found, and keeps the answer its Idempotency-Key gives;
   * false if it was settled meanwhile or another dispatch holds the command.
   */
  private async settle(intent: DispatchIntent, outcome: DispatchOutcome): Promise<boolean> {
    const commandId = outcome.kind === 'created' ? outcome.commandId : null;
    if (!(await this.intents.settle(intent.id, intentStateOf(outcome), commandId))) {
      return false;
    }
    await this.answers.keepSettled(intent.id, outcome);
    return true;
  }

  /** Waits for a token of the shared budget; ends when the service stops. */
  private readonly gate = async (): Promise<void> => {
    const waitMs = Math.max(5, Math.ceil(1000 / this.config.reconcileRate));
    for (;;) {
      if (this.loop.stopped) {
        throw new Stopped();
      }
      if (await this.intents.takeCallToken(this.config.reconcileRate)) {
        return;
      }
      try {
        await sleep(waitMs, undefined, { signal: this.stopping.signal });
      } catch {
        throw new Stopped();
      }
    }
  };

  private rethrowUnlessPlatform(error: unknown): void {
    if (error instanceof Stopped || isDatabaseError(error)) {
      throw error;
    }
    this.metrics.reconciliationFailed('platform');
  }
}

/** Whether the platform's status is news: neither the current one nor behind it. */
function learnsSomething(current: CommandStatus, found: CommandStatus): boolean {
  return found !== current && rankOf(found) >= rankOf(current);
}

function byCreation(a: PlatformCommand, b: PlatformCommand): number {
  return (
    (a.createdAt?.getTime() ?? Number.MAX_SAFE_INTEGER) -
    (b.createdAt?.getTime() ?? Number.MAX_SAFE_INTEGER)
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
