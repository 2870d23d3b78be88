import { Module } from '@nestjs/common';
import { AnalyticsController } from './analytics.controller.js';
import { CommandsController } from './commands.controller.js';
import { CommandsReader } from './commands.reader.js';
import { CommandsRepository } from './commands.repository.js';
import { CommandsService } from './commands.service.js';
import { DeadlineSweeper } from './deadline-sweeper.js';
import { GroupCommit } from './group-commit.js';
import { FeedModule } from '../feed/feed.module.js';

@Module({
  imports: [FeedModule],
  controllers: [CommandsController, AnalyticsController],
  providers: [CommandsRepository, GroupCommit, CommandsReader, CommandsService, DeadlineSweeper],
  exports: [CommandsService, CommandsRepository, DeadlineSweeper],
})
export class CommandsModule {}
