import { mapProblems, problem } from '../http/problem.js';

/** No dispatch has this id: 404. */
export class DispatchNotFoundError extends Error {
  constructor(readonly dispatchId: string) {
    super(`No dispatch ${dispatchId}`);
    this.name = 'DispatchNotFoundError';
  }
}

/** The dispatch has left the queue (sent, closed or canceled), so it cannot be canceled: 409. */
export class DispatchNotQueuedError extends Error {
  constructor(readonly state: string) {
    super(`The dispatch is ${state}: only a queued dispatch can be canceled`);
    this.name = 'DispatchNotQueuedError';
  }
}

/** No campaign has this id: 404. */
export class CampaignNotFoundError extends Error {
  constructor(readonly campaignId: string) {
    super(`No campaign ${campaignId}`);
    this.name = 'CampaignNotFoundError';
  }
}

/** The campaign's state does not allow the change (`verb`: pause, resume, cancel): 409. */
export class CampaignStateError extends Error {
  constructor(
    readonly state: string,
    verb?: string,
  ) {
    super(`The campaign is ${state}${verb === undefined ? '' : `: it cannot be ${verb}`}`);
    this.name = 'CampaignStateError';
  }
}

mapProblems((exception, { id: requestId }) => {
  if (exception instanceof DispatchNotFoundError || exception instanceof CampaignNotFoundError) {
    return { details: problem(404, exception.message, { requestId }), headers: {} };
  }
  if (exception instanceof DispatchNotQueuedError || exception instanceof CampaignStateError) {
    return { details: problem(409, exception.message, { requestId }), headers: {} };
  }
  return undefined;
});
