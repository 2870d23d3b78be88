import { Global, Module } from '@nestjs/common';
import { CommandsModule } from '../commands/commands.module.js';
import { CallbacksController } from './callbacks.controller.js';
import { IotdaAmqpConsumer } from './iotda-amqp.consumer.js';
import { IotdaCallbacksController } from './iotda-callbacks.controller.js';

/**
 * Receiving the platforms' status pushes: the legacy callback (callbackUrl), IoTDA's HTTP push and
 * its AMQP queue (idle unless IOTDA_AMQP_URL is set), each handing reports to CommandsService.
 * Global so that /health/ready reads the consumer.
 */
@Global()
@Module({
  imports: [CommandsModule],
  controllers: [CallbacksController, IotdaCallbacksController],
  providers: [IotdaAmqpConsumer],
  exports: [IotdaAmqpConsumer],
})
export class ReceivingModule {}
