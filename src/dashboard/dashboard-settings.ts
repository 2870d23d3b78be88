import { type PlatformName } from '../config/config.js';

/** Which platform actions the page offers. */
export interface DashboardSettings {
  platform: 'iotda' | 'oceanconnect' | null;
  /** POST /commands/{id}/reconcile works (a platform is configured). */
  reconcile: boolean;
  /** POST /commands/{id}/cancel works (the legacy platform only: IoTDA has no cancel). */
  cancel: boolean;
}

/**
 * From the configured platform (PLATFORM). The page only decides which buttons to show; the
 * endpoints themselves still answer 501 when the platform cannot do it.
 */
export function dashboardSettings(platform: PlatformName | undefined): DashboardSettings {
  if (platform === 'iotda') {
    return { platform, reconcile: true, cancel: false };
  }
  if (platform === 'oceanconnect') {
    return { platform, reconcile: true, cancel: true };
  }
  return { platform: null, reconcile: false, cancel: false };
}
