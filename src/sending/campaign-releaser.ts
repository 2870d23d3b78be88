import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { PLATFORM_CLIENT } from '../platform/platform-problem.js';
import { type PlatformClient } from '../platform/platform-client.js';
import { PollLoop } from '../scheduling/poll-loop.js';
import { type ActiveCampaign, CampaignsRepository } from './campaigns.repository.js';

// How often the running campaigns' budgets are taken from: short enough that a campaign at
// 60,000 a minute releases in small steps, rather than a second's worth at once.
const RELEASE_MS = 50;
// How often canaries, abort thresholds and completion are looked at.
const EVALUATE_MS = 500;

/**
 * Each instance's campaign loop: starts scheduled campaigns, releases running campaigns'
 * dispatches from each campaign's budget in the database (shared by all instances, so together
 * they release at ratePerMinute), decides canaries, trips abort thresholds and completes
 * campaigns. Every step is a guarded statement, so instances running it at once agree.
 */
@Injectable()
export class CampaignReleaser implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(CampaignReleaser.name);
  private readonly loop = new PollLoop(
    async () => {
      await this.pass();
      return RELEASE_MS;
    },
    (error) => {
      this.logger.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'A campaign pass failed; the next one runs later',
      );
      return RELEASE_MS;
    },
  );
  private lastEvaluation = 0;

  constructor(
    @Inject(PLATFORM_CLIENT) private readonly client: PlatformClient | null,
    private readonly campaigns: CampaignsRepository,
  ) {}

  onApplicationBootstrap(): void {
    if (this.client !== null) {
      this.loop.start(0);
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.loop.stop();
  }

  /** One pass: releases what each running campaign's budget allows, and now and then evaluates. */
  async pass(): Promise<void> {
    const evaluate = Date.now() - this.lastEvaluation >= EVALUATE_MS;
    if (evaluate) {
      this.lastEvaluation = Date.now();
      await this.campaigns.start();
    }
    for (const campaign of await this.campaigns.active()) {
      if (this.loop.stopped) {
        return;
      }
      if (evaluate) {
        await this.evaluate(campaign);
      }
      await this.campaigns.release(campaign);
    }
  }

  private async evaluate(campaign: ActiveCampaign): Promise<void> {
    const { campaignId, canary, abort } = campaign;
    if (canary !== null && !campaign.canaryPassed && campaign.released >= canary.devices) {
      const result = await this.campaigns.canary(campaignId, canary.devices);
      if (result.open === 0) {
        if (result.successful * 100 >= canary.minSuccessPercent * result.total) {
          await this.campaigns.passCanary(campaignId);
        } else {
          await this.campaigns.close(
            campaignId,
            ['running'],
            'aborted',
            `canary: ${result.successful} of ${result.total} devices SUCCESSFUL, below ${canary.minSuccessPercent} %`,
          );
          return;
        }
      }
    }
    if (abort !== null) {
      const { results, failures } = await this.campaigns.results(campaignId);
      if (results >= abort.minResults && failures * 100 > abort.failurePercent * results) {
        await this.campaigns.close(
          campaignId,
          ['running'],
          'aborted',
          `${failures} of ${results} results not SUCCESSFUL, over ${abort.failurePercent} %`,
        );
        return;
      }
    }
    await this.campaigns.completeIfDone(campaignId);
  }
}
