// The cost of validating one status report: `npm run build && node dist/bench/validation.js`.
// Times 100,000 validations of a legacy callback body (BodyPipe) and of an IoTDA message
// (parseIotdaMessage), after a warm-up, three rounds each; docs/decisions/validation.md has the
// figures.

import { CommandStatusCallbackDto } from '../src/commands/dto/command-status-callback.dto.js';
import { BodyPipe } from '../src/http/validation.js';
import { parseIotdaMessage } from '../src/receiving/iotda-message.js';

const ROUNDS = 3;
const COUNT = 100_000;
const WARM_UP = 20_000;

const callback = (): unknown => ({
  deviceId: '92d3f8da-200a-4143-8d0d-591a7e11de6c',
  commandId: '108a9c71462a48e09426e06e844d47ba',
  result: { resultCode: 'SENT', resultDetail: { code: 0 } },
});

const iotda = (): unknown => ({
  resource: 'device.command.status',
  event: 'update',
  event_time: '20261201T101500Z',
  notify_data: {
    header: { device_id: 'd-1' },
    body: { command_id: 'c-1', status: 'SUCCESSFUL', result: { code: 0 } },
  },
});

function time(name: string, validate: () => unknown): void {
  for (let i = 0; i < WARM_UP; i++) {
    validate();
  }
  const start = process.hrtime.bigint();
  for (let i = 0; i < COUNT; i++) {
    validate();
  }
  const micros = Number(process.hrtime.bigint() - start) / COUNT / 1000;
  console.log(`${name}: ${micros.toFixed(2)} µs each`);
}

const pipe = new BodyPipe(CommandStatusCallbackDto);
for (let round = 0; round < ROUNDS; round++) {
  time('callback body', () => pipe.transform(callback()));
  time('IoTDA message', () => parseIotdaMessage(iotda()));
}
