import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { type AppConfig } from './config/config.js';
import { ConfigModule } from './config/config.module.js';
import { dataSourceOptions } from './database/data-source.js';
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

export interface DatabaseTarget {
  url: string;
  poolSize: number;
}

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, database: DatabaseTarget): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        TypeOrmModule.forRoot({
          ...dataSourceOptions({ url: database.url, poolSize: database.poolSize }),
          // Start-up fails fast; docker compose waits for a healthy database instead.
          retryAttempts: 2,
          retryDelay: 1000,
        }),
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
