import { type IntentState } from './dispatch.repository.js';
import { type PlatformAnswerLostError, type PlatformTimeoutError } from './platform-client.js';

/**
 * How a dispatch ended, in the domain's words: PlatformService and the Reconciler settle its
 * intent by it, and PlatformAnswers makes it the HTTP answer a repeated Idempotency-Key gets.
 */
export type DispatchOutcome =
  /** The platform created the command, and it is tracked. */
  | { kind: 'created'; commandId: string }
  /** The platform refused, could not be reached or answered something unexpected: no command. */
  | { kind: 'refused'; error: unknown }
  /** Its answer was lost or late: the command may exist, and reconciliation searches for it. */
  | { kind: 'uncertain'; error: PlatformAnswerLostError | PlatformTimeoutError }
  /** Reconciliation found no command for a dispatch whose answer was lost. */
  | { kind: 'not-created' };

/** The state a dispatch's intent settles in. */
export function intentStateOf(
  outcome: DispatchOutcome,
): Exclude<IntentState, 'calling' | 'abandoned'> {
  switch (outcome.kind) {
    case 'created':
      return 'created';
    case 'refused':
    case 'not-created':
      return 'refused';
    case 'uncertain':
      return 'lost';
  }
}
