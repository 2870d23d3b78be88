import { COMMAND_STATUSES, type CommandStatus, rankOf } from '../commands/command-status.js';
import { phaseOf } from './command-latency.js';

describe('phaseOf', () => {
  it.each([
    ['SENT', null, 'toSent'],
    ['SENT', 'PENDING', 'toSent'],
    ['DELIVERED', 'SENT', 'toDelivered'],
    ['SUCCESSFUL', 'DELIVERED', 'toFinal'],
    ['SUCCESSFUL', null, 'toFinal'],
    ['TIMEOUT', 'SENT', 'toFinal'],
    ['SUCCESSFUL', 'TIMEOUT', undefined],
    ['FAILED', 'EXPIRED', undefined],
    ['PENDING', null, undefined],
  ] as const)('times %s applied over %s as %s', (status, previous, phase) => {
    expect(phaseOf(status, previous)).toBe(phase);
  });

  it('times a final status only the first time one is applied', () => {
    for (const status of COMMAND_STATUSES.filter((s) => rankOf(s) >= 3)) {
      for (const previous of COMMAND_STATUSES as readonly CommandStatus[]) {
        expect(phaseOf(status, previous) === 'toFinal').toBe(rankOf(previous) < 3);
      }
    }
  });
});
