import { Module } from '@nestjs/common';
import { CommandAnalyticsController } from './command-analytics.controller.js';
import { CommandAnalyticsService } from './command-analytics.service.js';

/** GET /analytics/commands: how fast and how well commands complete. */
@Module({
  controllers: [CommandAnalyticsController],
  providers: [CommandAnalyticsService],
})
export class CommandAnalyticsModule {}
