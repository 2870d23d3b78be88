import { Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { DASHBOARD_SETTINGS, DashboardApiController } from './dashboard-api.controller.js';
import { DashboardOverview } from './dashboard-overview.js';
import { DashboardPageController } from './dashboard-page.controller.js';
import { dashboardSettings } from './dashboard-settings.js';
import { DashboardRepository } from './dashboard.repository.js';
import { IgnoredReports } from './ignored-reports.js';

/** GET /dashboard, the operations page, and the counts it reads under /dashboard/api. */
@Module({
  controllers: [DashboardPageController, DashboardApiController],
  providers: [
    DashboardRepository,
    DashboardOverview,
    IgnoredReports,
    {
      provide: DASHBOARD_SETTINGS,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => dashboardSettings(config.platform?.name),
    },
  ],
})
export class DashboardModule {}
