import {
  PlatformInvalidAnswerError,
  PlatformRefusedError,
  PlatformUnreachableError,
  isUncertain,
} from '../platform/platform-client.js';
import { type AttemptOutcome } from './dispatches.dto.js';

// The device is offline: IoTDA, and the legacy platform (inside a 200).
const OFFLINE_CODES = new Set(['IOTDA.014016', '100428']);
// Flow control: the legacy platform's 100 calls a minute, IoTDA's and its gateway's limits.
const THROTTLED_CODES = new Set(['1010009', 'IOTDA.000005', 'APIGW.0308']);
// Refusals that say to try later: the device's command cache is full.
const LATER_CODES = new Set(['IOTDA.014301', '100223']);

/** A failed platform call as an attempt's outcome, with the platform's error when it gave one. */
export function outcomeOf(error: unknown): {
  outcome: Exclude<AttemptOutcome, 'sent'>;
  platformError?: { code: string; message: string };
} {
  if (error instanceof PlatformRefusedError) {
    const platformError = { code: error.code, message: error.platformMessage };
    if (OFFLINE_CODES.has(error.code)) {
      return { outcome: 'offline', platformError };
    }
    if (error.httpStatus === 429 || THROTTLED_CODES.has(error.code)) {
      return { outcome: 'throttled', platformError };
    }
    if (LATER_CODES.has(error.code)) {
      return { outcome: 'unavailable', platformError };
    }
    return { outcome: 'refused', platformError };
  }
  if (isUncertain(error)) {
    return { outcome: 'lost' };
  }
  if (error instanceof PlatformUnreachableError) {
    return {
      outcome: 'unavailable',
      platformError: { code: 'UNREACHABLE', message: error.reason },
    };
  }
  if (error instanceof PlatformInvalidAnswerError) {
    return { outcome: 'refused', platformError: { code: 'INVALID_ANSWER', message: error.reason } };
  }
  throw error;
}

/** Whether an attempt with this outcome is tried again (while attempts and sendBy allow). */
export function isRetried(outcome: AttemptOutcome): boolean {
  return outcome === 'offline' || outcome === 'throttled' || outcome === 'unavailable';
}

/**
 * The delay before attempt `attempt` + 1: exponential from `baseSeconds`, capped at `maxSeconds`,
 * with full jitter (a uniform share of it), so that retries of many devices spread out.
 */
export function backoffMs(
  attempt: number,
  baseSeconds: number,
  maxSeconds: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxSeconds, baseSeconds * 2 ** Math.min(attempt - 1, 30)) * 1000;
  return Math.round(random() * ceiling);
}
