import { newCommandId } from './factories.js';

export interface IotdaMessageOptions {
  deviceId?: string;
  commandId?: string;
  status?: string;
  result?: unknown;
  resource?: string;
  event?: string;
  /** Put `body` beside notify_data, as some of IoTDA's examples do. */
  bodyBeside?: boolean;
}

/** An IoTDA data-forwarding message for device.command.status / update, as docs/api.md shows it. */
export function iotdaMessage(options: IotdaMessageOptions = {}): Record<string, unknown> {
  const body: Record<string, unknown> = {
    command_id: options.commandId ?? newCommandId(),
    status: options.status ?? 'SENT',
    created_time: '20261201T101400Z',
    sent_time: '20261201T101401Z',
  };
  if (options.result !== undefined) {
    body.result = options.result;
  }
  const header = { device_id: options.deviceId ?? 'd-1', product_id: 'p-1', app_id: 'a-1' };
  return {
    resource: options.resource ?? 'device.command.status',
    event: options.event ?? 'update',
    event_time: '20261201T101500Z',
    ...(options.bodyBeside ? { notify_data: { header }, body } : { notify_data: { header, body } }),
  };
}

export function commandIdOf(message: Record<string, unknown>): string {
  const notify = message.notify_data as { body?: { command_id: string } };
  return (notify.body ?? (message.body as { command_id: string })).command_id;
}
