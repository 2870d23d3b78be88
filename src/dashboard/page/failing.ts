import { commandName, counts } from './counts.js';
import { deviceRoute, h, link } from './dom.js';
import { countTable } from './table.js';

/** Statuses that count as failing: the command did not succeed. */
const FAILING = 'FAILED,TIMEOUT,EXPIRED';
const SHOWN = 5;

/** The devices and commands with the most failing commands created since `since`. */
export async function topFailing(since: string, windowLabel: string): Promise<HTMLElement> {
  const filters = { status: FAILING, since };
  const [byDevice, byCommand] = await Promise.all([
    counts(filters, 'deviceId', SHOWN),
    counts(filters, 'command', SHOWN),
  ]);
  const what = `FAILED, TIMEOUT or EXPIRED, created in the window (${windowLabel.toLowerCase()})`;
  if (byDevice.total === 0) {
    return h('p', { id: 'top-failing' }, `No command ${what}.`);
  }
  return h(
    'div',
    { class: 'groups', id: 'top-failing' },
    countTable(
      'failing-devices',
      `Devices with the most commands ${what}`,
      'Device',
      byDevice.groups.map((group) => ({
        key: link(deviceRoute(group.key.deviceId ?? ''), group.key.deviceId ?? ''),
        count: group.count,
      })),
    ),
    countTable(
      'failing-commands',
      `Commands (service / method) most often ${what}`,
      'Command',
      byCommand.groups.map((group) => ({ key: commandName(group.key), count: group.count })),
    ),
  );
}
