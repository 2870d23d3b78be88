import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { type AppConfig } from './config/config.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule, type DatabaseTarget } from './database/database.module.js';
import { CommandAnalyticsModule } from './analytics/command-analytics.module.js';
import { CommandsModule } from './commands/commands.module.js';
import { DashboardModule } from './dashboard/dashboard.module.js';
import { EventsModule } from './events/events.module.js';
import { HealthModule } from './health/health.module.js';
import { MetricsModule } from './metrics/metrics.module.js';
import { ReceivingModule } from './receiving/receiving.module.js';
import { PlatformModule } from './platform/platform.module.js';
import { SendingModule } from './sending/sending.module.js';
import { ProblemDetailsFilter } from './http/problem.filter.js';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, database: DatabaseTarget): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule.forRoot(config, database),
        ReceivingModule,
        CommandsModule,
        HealthModule,
        MetricsModule,
        PlatformModule,
        SendingModule,
        DashboardModule,
        EventsModule,
        CommandAnalyticsModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: ProblemDetailsFilter }],
    };
  }
}
