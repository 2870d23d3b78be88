import { randomUUID } from 'node:crypto';

export interface CallbackBody {
  deviceId: string;
  commandId: string;
  result: { resultCode: string; resultDetail?: unknown };
  [extra: string]: unknown;
}

export function newCommandId(): string {
  return randomUUID().replace(/-/g, '');
}

/** A platform status push; every field can be overridden. */
export function callbackBody(overrides: Partial<CallbackBody> = {}): CallbackBody {
  return {
    deviceId: '92d3f8da-200a-4143-8d0d-591a7e11de6c',
    commandId: newCommandId(),
    result: { resultCode: 'SENT', resultDetail: null },
    ...overrides,
  };
}

export function registrationBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    commandId: newCommandId(),
    deviceId: '92d3f8da-200a-4143-8d0d-591a7e11de6c',
    serviceId: 'WaterMeter',
    method: 'SET_TEMPERATURE_READ_PERIOD',
    paras: { value: 5 },
    ...overrides,
  };
}
