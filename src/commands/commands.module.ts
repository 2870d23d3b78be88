import { Module } from '@nestjs/common';
import { CallbacksController } from './callbacks.controller.js';
import { ChangesController } from './changes.controller.js';
import { CommandChanges } from './command-changes.js';
import { CommandsController } from './commands.controller.js';
import { CommandsReader } from './commands.reader.js';
import { CommandsRepository } from './commands.repository.js';
import { CommandsService } from './commands.service.js';
import { DeadlineSweeper } from './deadline-sweeper.js';

@Module({
  controllers: [CallbacksController, CommandsController, ChangesController],
  providers: [CommandsRepository, CommandsReader, CommandsService, CommandChanges, DeadlineSweeper],
  exports: [CommandsService, CommandChanges, CommandsRepository, DeadlineSweeper],
})
export class CommandsModule {}
