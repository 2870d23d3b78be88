import { Global, Module } from '@nestjs/common';
import { CommandsModule } from '../commands/commands.module.js';
import { IotdaAmqpConsumer } from './iotda-amqp.consumer.js';

/** The IoTDA AMQP consumer (idle unless IOTDA_AMQP_URL is set); global so /health/ready reads it. */
@Global()
@Module({
  imports: [CommandsModule],
  providers: [IotdaAmqpConsumer],
  exports: [IotdaAmqpConsumer],
})
export class IotdaAmqpModule {}
