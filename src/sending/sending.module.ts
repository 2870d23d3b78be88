import { Module } from '@nestjs/common';
import { CommandsModule } from '../commands/commands.module.js';
import { PlatformModule } from '../platform/platform.module.js';
import { DispatchQueueRepository } from './dispatch-queue.repository.js';
import { DispatchSender } from './dispatch-sender.js';
import { DispatchesController } from './dispatches.controller.js';
import { DispatchesService } from './dispatches.service.js';
import { SendingMetrics } from './sending-metrics.js';

/** /dispatches: the per-device queue in the database, and the loop that sends from it. */
@Module({
  imports: [CommandsModule, PlatformModule],
  controllers: [DispatchesController],
  providers: [DispatchQueueRepository, DispatchesService, DispatchSender, SendingMetrics],
  exports: [DispatchSender],
})
export class SendingModule {}
