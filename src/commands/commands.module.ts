import { Module } from '@nestjs/common';
import { CallbacksController } from './callbacks.controller.js';
import { CommandChanges } from './command-changes.js';
import { CommandsController } from './commands.controller.js';
import { CommandsRepository } from './commands.repository.js';
import { CommandsService } from './commands.service.js';

@Module({
  controllers: [CallbacksController, CommandsController],
  providers: [CommandsRepository, CommandsService, CommandChanges],
  exports: [CommandsService, CommandChanges, CommandsRepository],
})
export class CommandsModule {}
