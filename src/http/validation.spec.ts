import { plainToInstance } from 'class-transformer';
import {
  CommandResultDto,
  CommandStatusCallbackDto,
} from '../commands/dto/command-status-callback.dto.js';
import { IotdaMessageDto } from '../receiving/iotda-message.dto.js';
import { RegisterCommandDto } from '../commands/dto/register-command.dto.js';
import { DispatchCommandDto } from '../platform/dispatch.dto.js';
import { ValidationProblem } from './problem.js';
import { CreateCampaignDto, ListCampaignsQuery } from '../sending/campaigns.dto.js';
import { QueueDispatchDto } from '../sending/dispatches.dto.js';
import { BodyPipe, type Dto, IdentifierPipe, QueryPipe } from './validation.js';
import { IsJsonObject, IsWholeNumber } from './validators.js';

// Every body goes through BodyPipe with its route's DTO: the problems name each invalid field
// once, in the class's order, with its path; nothing else is refused.

function problemsOf(dto: Dto<object>, body: unknown): string[] {
  try {
    new BodyPipe(dto).transform(body);
    return [];
  } catch (error) {
    if (error instanceof ValidationProblem) {
      return error.errors.map((problem) => `${problem.field}: ${problem.message}`);
    }
    throw error;
  }
}

const STATUSES = 'PENDING, SENT, DELIVERED, TIMEOUT, EXPIRED, CANCELED, SUCCESSFUL, FAILED';
const INSTANT = 'must be an ISO 8601 date and time with Z or an offset, e.g. 2026-11-26T05:00:00Z';

describe('the status push body', () => {
  it.each<[string, unknown, string[]]>([
    ['a report', { deviceId: 'd-1', commandId: 'c-1', result: { resultCode: 'SENT' } }, []],
    [
      'DEFAULT with a detail and unknown fields',
      { deviceId: 'd', commandId: 'c', result: { resultCode: 'DEFAULT', resultDetail: 1 }, x: [1] },
      [],
    ],
    [
      'nothing',
      {},
      [
        'deviceId: deviceId must be a string',
        'commandId: commandId must be a string',
        'result: result is required',
      ],
    ],
    [
      'ids of the wrong length and a result that is not an object',
      { deviceId: '', commandId: 'x'.repeat(129), result: 'SENT' },
      [
        'deviceId: deviceId must be 1 to 128 characters long',
        'commandId: commandId must be 1 to 128 characters long',
        'result: result must be an object',
      ],
    ],
    [
      'a result that is an array',
      { deviceId: 7, commandId: 'c', result: [] },
      ['deviceId: deviceId must be a string', 'result: result must be an object'],
    ],
    [
      'no resultCode',
      { deviceId: 'd', commandId: 'c', result: {} },
      [`result.resultCode: result.resultCode must be one of ${STATUSES}`],
    ],
    [
      'a resultCode in lower case',
      { deviceId: 'd', commandId: 'c', result: { resultCode: 'sent' } },
      [`result.resultCode: result.resultCode must be one of ${STATUSES}`],
    ],
    [
      'a control character in an id',
      { deviceId: 'd\u0001', commandId: 'c', result: { resultCode: 'SENT' } },
      ['deviceId: deviceId must not contain control characters'],
    ],
    [
      'nulls',
      { deviceId: null, commandId: null, result: { resultCode: null } },
      [
        'deviceId: deviceId must be a string',
        'commandId: commandId must be a string',
        `result.resultCode: result.resultCode must be one of ${STATUSES}`,
      ],
    ],
    ['an array', [1], ['body: body must be a JSON object']],
    ['a string', 'x', ['body: body must be a JSON object']],
    ['null', null, ['body: body must be a JSON object']],
    [
      'a NUL anywhere',
      { deviceId: 'd', commandId: 'c', result: { resultCode: 'SENT', resultDetail: 'a\u0000' } },
      ['result.resultDetail: result.resultDetail must not contain NUL characters (\\u0000)'],
    ],
    [
      'a NUL in a key',
      { 'k\u0000': 1 },
      ['key "k\\u0000": key "k\\u0000" must not contain NUL characters (\\u0000)'],
    ],
  ])('%s', (_name, body, problems) => {
    expect(problemsOf(CommandStatusCallbackDto, body)).toEqual(problems);
  });

  it('gives the parsed fields, resultDetail null when absent', () => {
    expect(
      new BodyPipe(CommandStatusCallbackDto).transform({
        deviceId: 'd',
        commandId: 'c',
        result: { resultCode: 'SENT' },
      }),
    ).toEqual({
      deviceId: 'd',
      commandId: 'c',
      result: { resultCode: 'SENT', resultDetail: null },
    });
  });
});

describe('the registration body', () => {
  it.each<[string, unknown, string[]]>([
    ['ids only', { commandId: 'c', deviceId: 'd' }, []],
    [
      'every optional field null',
      {
        commandId: 'c',
        deviceId: 'd',
        serviceId: null,
        method: null,
        paras: null,
        status: null,
        deadline: null,
        timeoutSeconds: null,
      },
      [],
    ],
    [
      'nothing',
      {},
      ['commandId: commandId must be a string', 'deviceId: deviceId must be a string'],
    ],
    [
      'every field wrong',
      {
        commandId: 'c',
        deviceId: 'd',
        serviceId: 5,
        method: 'x'.repeat(129),
        paras: [1],
        status: 'NOPE',
        deadline: 'tomorrow',
        timeoutSeconds: 1.5,
      },
      [
        'serviceId: serviceId must be a string',
        'method: method must be at most 128 characters long',
        'paras: paras must be a JSON object',
        `status: status must be one of ${STATUSES}`,
        `deadline: deadline ${INSTANT}`,
        'timeoutSeconds: timeoutSeconds must be a whole number',
      ],
    ],
    [
      'timeoutSeconds 0',
      { commandId: 'c', deviceId: 'd', timeoutSeconds: 0 },
      ['timeoutSeconds: timeoutSeconds must be from 1 to 31536000'],
    ],
    [
      'timeoutSeconds past a year',
      { commandId: 'c', deviceId: 'd', timeoutSeconds: 31536001 },
      ['timeoutSeconds: timeoutSeconds must be from 1 to 31536000'],
    ],
    [
      'timeoutSeconds as a string',
      { commandId: 'c', deviceId: 'd', timeoutSeconds: '60' },
      ['timeoutSeconds: timeoutSeconds must be a whole number'],
    ],
  ])('%s', (_name, body, problems) => {
    expect(problemsOf(RegisterCommandDto, body)).toEqual(problems);
  });

  it('gives the deadline as a time', () => {
    expect(
      new BodyPipe(RegisterCommandDto).transform({
        commandId: 'c',
        deviceId: 'd',
        deadline: '2026-11-26T01:00:00+01:00',
      }).deadline,
    ).toEqual(new Date('2026-11-26T00:00:00Z'));
  });
});

describe('the dispatch body', () => {
  it.each<[string, unknown, string[]]>([
    ['a command', { deviceId: 'd', serviceId: 's', method: 'm', paras: {} }, []],
    [
      'a command with every option',
      {
        deviceId: 'd',
        serviceId: 's',
        method: 'm',
        paras: {},
        timeoutSeconds: 60,
        sendStrategy: 'delay',
      },
      [],
    ],
    [
      'nothing',
      {},
      [
        'deviceId: deviceId must be a string',
        'serviceId: serviceId must be a string',
        'method: method must be a string',
        'paras: paras must be a JSON object',
      ],
    ],
    [
      'every field wrong',
      {
        deviceId: 'd',
        serviceId: '',
        method: null,
        paras: [],
        timeoutSeconds: 172801,
        sendStrategy: 'later',
      },
      [
        'serviceId: serviceId must not be empty',
        'method: method must be a string',
        'paras: paras must be a JSON object',
        'timeoutSeconds: timeoutSeconds must be from 1 to 172800',
        'sendStrategy: sendStrategy must be one of immediately, delay',
      ],
    ],
  ])('%s', (_name, body, problems) => {
    expect(problemsOf(DispatchCommandDto, body)).toEqual(problems);
  });
});

describe('fromPlain, which the status reports are read with instead of plainToInstance', () => {
  it.each<[string, Record<string, unknown>]>([
    [
      'a report',
      { deviceId: 'd', commandId: 'c', result: { resultCode: 'SENT', resultDetail: 1 } },
    ],
    ['no resultDetail', { deviceId: 'd', commandId: 'c', result: { resultCode: 'SENT' } }],
    ['a null resultDetail', { deviceId: 'd', commandId: 'c', result: { resultDetail: null } }],
    ['a result that is not an object', { deviceId: 1, result: 'SENT' }],
    ['nothing', {}],
  ])('reads a callback body as plainToInstance does: %s', (_name, body) => {
    const read = CommandStatusCallbackDto.fromPlain(body);
    const transformed = plainToInstance(CommandStatusCallbackDto, body);
    // toEqual, as fromPlain leaves absent fields undefined where plainToInstance leaves them out.
    expect(read).toEqual(transformed);
    expect(read).toBeInstanceOf(CommandStatusCallbackDto);
    expect(read.result instanceof CommandResultDto).toBe(
      transformed.result instanceof CommandResultDto,
    );
  });

  const notifyData = {
    header: { device_id: 'd' },
    body: { command_id: 'c', status: 'SENT', result: { code: 0 } },
  };

  it.each<[string, Record<string, unknown>]>([
    [
      'a report',
      { resource: 'r', event: 'e', event_time: '20261201T101500Z', notify_data: notifyData },
    ],
    [
      'no result',
      { resource: 'r', event: 'e', notify_data: { header: {}, body: { status: 'SENT' } } },
    ],
    ['no header, a body that is a string', { notify_data: { body: 'x' } }],
    ['a null event_time', { event_time: null, notify_data: 7 }],
  ])('reads an IoTDA message as plainToInstance does: %s', (_name, message) => {
    const read = IotdaMessageDto.fromPlain(message);
    const transformed = plainToInstance(IotdaMessageDto, message);
    expect(read).toEqual(transformed);
    const classes = (dto: IotdaMessageDto) => [
      dto.constructor.name,
      dto.notify_data?.constructor.name,
      dto.notify_data?.header?.constructor.name,
      dto.notify_data?.body?.constructor.name,
    ];
    expect(classes(read)).toEqual(classes(transformed));
  });
});

describe('the inputs built from more than one class, list elements and queries', () => {
  const command = { serviceId: 's', method: 'm', paras: {} };

  it('names a campaign device by its index', () => {
    expect(problemsOf(CreateCampaignDto, { name: 'n', command, devices: ['a', 'b', 'a'] })).toEqual(
      ['devices.2: devices.2 repeats an earlier device id'],
    );
    expect(problemsOf(CreateCampaignDto, { name: 'n', command, devices: ['a', ''] })).toEqual([
      'devices.1: devices.1 must be 1 to 128 characters long',
    ]);
  });

  it('names nested fields by their path, and refuses a nested value that is not an object', () => {
    expect(
      problemsOf(CreateCampaignDto, {
        name: '',
        command: { ...command, method: 5 },
        devices: ['a'],
        canary: [],
        abort: { failurePercent: 101, minResults: 1 },
      }),
    ).toEqual([
      'name: name must not be empty',
      'command.method: command.method must be a string',
      'canary: canary must be an object',
      'abort.failurePercent: abort.failurePercent must be from 0 to 100',
    ]);
  });

  it("lists an inherited field's problem before the subclass's own, as the document does", () => {
    expect(
      problemsOf(QueueDispatchDto, { ...command, deviceId: '', mode: 'later', notBefore: 'x' }),
    ).toEqual([
      'deviceId: deviceId must be 1 to 128 characters long',
      'mode: mode must be one of async, sync',
      `notBefore: notBefore ${INSTANT}`,
    ]);
  });

  it('keeps only the fields a DTO declares, with the defaults of those absent', () => {
    const dto = new BodyPipe(QueueDispatchDto).transform({
      ...command,
      deviceId: 'd',
      extra: 1,
      mode: null,
    });
    expect({ ...dto }).toEqual({ ...command, deviceId: 'd', mode: 'async' });
  });

  it('refuses a query parameter given twice, and ignores one it does not declare', () => {
    expect(() =>
      new QueryPipe(ListCampaignsQuery).transform({ state: ['running', 'paused'] }),
    ).toThrow('state must be given at most once');
    expect({ ...new QueryPipe(ListCampaignsQuery).transform({ other: 'x', limit: '7' }) }).toEqual({
      limit: 7,
    });
  });

  it('checks an id in the path', () => {
    expect(new IdentifierPipe('commandId').transform('c-1')).toBe('c-1');
    expect(() => new IdentifierPipe('commandId').transform('c\u0001')).toThrow(
      'commandId must not contain control characters',
    );
  });

  it('applies a validator registered after its class was validated (kept lookups are forgotten)', () => {
    class Counted {
      @IsWholeNumber(1, 2)
      count!: number;
    }
    expect(problemsOf(Counted, { count: 2, other: 'x' })).toEqual([]);
    IsJsonObject()(Counted.prototype, 'other');
    expect(problemsOf(Counted, { count: 2, other: 'x' })).toEqual([
      'other: other must be a JSON object',
    ]);
  });
});
