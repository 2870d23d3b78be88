import { Module } from '@nestjs/common';
import { CommandsModule } from '../commands/commands.module.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { assertNever } from '../commands/command-status.js';
import { DispatchRepository } from './dispatch.repository.js';
import { IotdaClient } from './iotda.client.js';
import { OceanConnectClient } from './oceanconnect.client.js';
import { type PlatformClient } from './platform-client.js';
import { PlatformAnswers } from './platform-answers.js';
import { PlatformMetrics } from './platform-metrics.js';
import { PLATFORM_CLIENT } from './platform-problem.js';
import { PlatformController } from './platform.controller.js';
import { PlatformService } from './platform.service.js';
import { Reconciler } from './reconciler.js';

/** The client of the configured platform (PLATFORM), or null when none is. */
export function createPlatformClient(
  config: AppConfig,
  metrics: PlatformMetrics,
): PlatformClient | null {
  const platform = config.platform;
  if (platform === undefined) {
    return null;
  }
  const observe = metrics.callCompleted.bind(metrics, platform.name);
  switch (platform.name) {
    case 'iotda':
      return new IotdaClient(platform, config.platformTimeoutMs, observe);
    case 'oceanconnect':
      return new OceanConnectClient(platform, config.platformTimeoutMs, observe);
    default:
      return assertNever(platform);
  }
}

/** Dispatch, cancel and reconciliation through Huawei's IoT platform (IoTDA v5 or legacy). */
@Module({
  imports: [CommandsModule],
  controllers: [PlatformController],
  providers: [
    PlatformMetrics,
    DispatchRepository,
    PlatformService,
    PlatformAnswers,
    Reconciler,
    {
      provide: PLATFORM_CLIENT,
      inject: [APP_CONFIG, PlatformMetrics],
      useFactory: createPlatformClient,
    },
  ],
  exports: [PlatformService, Reconciler, DispatchRepository, PLATFORM_CLIENT, PlatformMetrics],
})
export class PlatformModule {}
