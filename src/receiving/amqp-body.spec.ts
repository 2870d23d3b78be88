import rhea from 'rhea';
import { UnreadableMessage, decodeBody, tolerateUnreadableMessages } from './amqp-body.js';

const LIMIT = 1024;

describe('decodeBody', () => {
  const json = { resource: 'device.command.status', event: 'update' };
  const text = JSON.stringify(json);

  it.each([
    ['a data section', { body: rhea.message.data_section(Buffer.from(text)) }],
    ['a string value', { body: text }],
    ['a binary value', { body: Buffer.from(text) }],
    ['a map value', { body: json }],
  ])('reads JSON sent as %s', (_, message) => {
    expect(decodeBody(message, LIMIT)).toEqual({ kind: 'json', value: json });
  });

  it('reads a body of exactly the limit', () => {
    const exact = `"${'x'.repeat(LIMIT - 2)}"`;
    expect(decodeBody({ body: exact }, LIMIT).kind).toBe('json');
  });

  it.each([
    ['a data section', { body: rhea.message.data_section(Buffer.alloc(LIMIT + 1, 0x20)) }],
    // Counted in UTF-8 bytes: 342 three-byte characters are 1026 bytes.
    ['a string value', { body: `"${'€'.repeat(342)}"` }],
  ])('refuses %s over the limit before parsing it', (_, message) => {
    expect(decodeBody(message, LIMIT)).toEqual({
      kind: 'too-large',
      why: expect.stringMatching(/over the limit of 1024/),
    });
  });

  it.each([
    ['not JSON', { body: '{"resource":' }],
    ['no body', {}],
    ['a number', { body: 7 }],
    ['a raw buffer of another message format', Buffer.from('x')],
  ])('finds a message with %s undecodable', (_, message) => {
    expect(decodeBody(message, LIMIT).kind).toBe('undecodable');
  });

  it('passes on why rhea could not read it', () => {
    expect(decodeBody(new UnreadableMessage('undecodable', 'bad bytes'), LIMIT)).toEqual({
      kind: 'undecodable',
      why: 'bad bytes',
    });
  });
});

describe('tolerateUnreadableMessages', () => {
  beforeAll(() => tolerateUnreadableMessages(LIMIT + 100));

  it('decodes a well-formed message as rhea does', () => {
    const encoded = rhea.message.encode({ body: 'hello', subject: 's' });
    expect(rhea.message.decode(encoded)).toMatchObject({ body: 'hello', subject: 's' });
  });

  it('delivers a message rhea fails on as undecodable instead of throwing', () => {
    // A data section passed as the message: rhea writes the section, then a null value; a broker
    // may hand them back the other way round, which rhea's decoder fails on.
    const section = rhea.message.encode({ body: rhea.message.data_section(Buffer.from('{}')) });
    const nullValue = rhea.message.encode({ body: null });
    const decoded = rhea.message.decode(Buffer.concat([nullValue, section]));
    expect(decoded).toBeInstanceOf(UnreadableMessage);
    expect((decoded as unknown as UnreadableMessage).kind).toBe('undecodable');
  });

  it('does not decode a message larger than the limit it was given', () => {
    const encoded = rhea.message.encode({ body: 'x'.repeat(LIMIT + 100) });
    const decoded = rhea.message.decode(encoded) as unknown as UnreadableMessage;
    expect(decoded).toBeInstanceOf(UnreadableMessage);
    expect(decoded.kind).toBe('too-large');
  });

  it('wraps once, however often it is asked', () => {
    const wrapped = rhea.message.decode;
    tolerateUnreadableMessages(LIMIT + 100);
    expect(rhea.message.decode).toBe(wrapped);
  });
});
