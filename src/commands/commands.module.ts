import { Module } from '@nestjs/common';
import { AnalyticsController } from './analytics.controller.js';
import { CallbacksController } from './callbacks.controller.js';
import { CommandsController } from './commands.controller.js';
import { CommandsReader } from './commands.reader.js';
import { CommandsRepository } from './commands.repository.js';
import { CommandsService } from './commands.service.js';
import { DeadlineSweeper } from './deadline-sweeper.js';
import { GroupCommit } from './group-commit.js';
import { FeedModule } from '../feed/feed.module.js';
import { IotdaCallbacksController } from './iotda-callbacks.controller.js';

@Module({
  imports: [FeedModule],
  controllers: [
    CallbacksController,
    IotdaCallbacksController,
    CommandsController,
    AnalyticsController,
  ],
  providers: [CommandsRepository, GroupCommit, CommandsReader, CommandsService, DeadlineSweeper],
  exports: [CommandsService, CommandsRepository, DeadlineSweeper],
})
export class CommandsModule {}
