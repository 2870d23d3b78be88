import { Module } from '@nestjs/common';
import { CommandsModule } from '../commands/commands.module.js';
import { PlatformModule } from '../platform/platform.module.js';
import { CampaignReleaser } from './campaign-releaser.js';
import { CampaignsController } from './campaigns.controller.js';
import { CampaignsRepository } from './campaigns.repository.js';
import { CampaignsService } from './campaigns.service.js';
import { DispatchQueueRepository } from './dispatch-queue.repository.js';
import { DispatchSender } from './dispatch-sender.js';
import { DispatchesController } from './dispatches.controller.js';
import { DispatchesService } from './dispatches.service.js';
import { SendingMetrics } from './sending-metrics.js';

/** /dispatches and /campaigns: the per-device queue in the database, and the loops over it. */
@Module({
  imports: [CommandsModule, PlatformModule],
  controllers: [DispatchesController, CampaignsController],
  providers: [
    DispatchQueueRepository,
    DispatchesService,
    DispatchSender,
    SendingMetrics,
    CampaignsRepository,
    CampaignsService,
    CampaignReleaser,
  ],
  exports: [DispatchSender],
})
export class SendingModule {}
