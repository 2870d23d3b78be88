import { Module } from '@nestjs/common';
import { CallbacksController } from './callbacks.controller.js';
import { ChangesController } from './changes.controller.js';
import { CommandChanges } from './command-changes.js';
import { CommandsController } from './commands.controller.js';
import { CommandsRepository } from './commands.repository.js';
import { CommandsService } from './commands.service.js';
import { DeadlineSweeper } from './deadline-sweeper.js';
import { IotdaCallbacksController } from './iotda-callbacks.controller.js';

@Module({
  controllers: [
    CallbacksController,
    IotdaCallbacksController,
    CommandsController,
    ChangesController,
  ],
  providers: [CommandsRepository, CommandsService, CommandChanges, DeadlineSweeper],
  exports: [CommandsService, CommandChanges, CommandsRepository, DeadlineSweeper],
})
export class CommandsModule {}
