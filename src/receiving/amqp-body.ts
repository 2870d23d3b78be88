// How an AMQP message becomes JSON, with no message able to stop the consumer: rhea decodes each
// message inside its socket handler, where a decoding error is an `error` event that ends the
// connection (and, unheard, the process) before the delivery can be settled, so the broker would
// hand the same message back forever. rhea's decoder is therefore wrapped once per process: a
// message it cannot read, or one too large to read, becomes an UnreadableMessage that the
// consumer rejects like any other invalid message.

import rhea, { type Message } from 'rhea';

/**
 * What the other sections of a message (header, annotations, properties, footer) may add to the
 * body limit before the message is not decoded at all.
 */
export const SECTIONS_ALLOWANCE_BYTES = 65_536;

/** A message rhea delivered without decoding it, and why. */
export class UnreadableMessage {
  constructor(
    readonly kind: 'undecodable' | 'too-large',
    readonly why: string,
  ) {}
}

type Decode = (buffer: Buffer) => Message;

const WRAPPED = Symbol('command-tracker: rhea decoding wrapped');
let largestEncodedBytes = Number.POSITIVE_INFINITY;

/**
 * Makes rhea deliver every message, readable or not: one whose encoding exceeds
 * `maxEncodedBytes` is not decoded, and one the decoder fails on is delivered as an
 * UnreadableMessage. The wrapping is process-wide (rhea's decoder is one module function); the
 * service has one receiver.
 */
export function tolerateUnreadableMessages(maxEncodedBytes: number): void {
  largestEncodedBytes = maxEncodedBytes;
  const codec = rhea.message as unknown as { decode: Decode & { [WRAPPED]?: true } };
  if (codec.decode[WRAPPED]) {
    return;
  }
  const decode = codec.decode;
  const tolerant = (buffer: Buffer): Message => {
    if (buffer.length > largestEncodedBytes) {
      return new UnreadableMessage(
        'too-large',
        `the message is ${buffer.length} bytes, over the ${largestEncodedBytes} this consumer reads`,
      ) as unknown as Message;
    }
    try {
      return decode(buffer);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return new UnreadableMessage(
        'undecodable',
        `the AMQP decoder cannot read the message: ${reason}`,
      ) as unknown as Message;
    }
  };
  codec.decode = Object.assign(tolerant, { [WRAPPED]: true as const });
}

export type Decoded =
  | { kind: 'json'; value: unknown }
  | { kind: 'undecodable'; why: string }
  | { kind: 'too-large'; why: string };

/**
 * A message body as JSON: IoTDA sends the forwarded JSON as a data section (bytes); an AMQP value
 * holding the JSON text, or the object itself, is read too. A body over `bodyLimit` bytes is
 * refused before it is parsed, as an HTTP push over it is.
 */
export function decodeBody(message: unknown, bodyLimit: number): Decoded {
  if (message instanceof UnreadableMessage) {
    return { kind: message.kind, why: message.why };
  }
  const body = (message as { body?: unknown } | undefined)?.body;
  let bytes: Buffer | string;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    bytes = body;
  } else if (
    typeof body === 'object' &&
    body !== null &&
    Buffer.isBuffer((body as { content?: unknown }).content)
  ) {
    bytes = (body as { content: Buffer }).content;
  } else if (typeof body === 'object' && body !== null) {
    return { kind: 'json', value: body };
  } else {
    return { kind: 'undecodable', why: 'the body is neither JSON text nor a JSON object' };
  }
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length;
  if (size > bodyLimit) {
    return { kind: 'too-large', why: `the body is ${size} bytes, over the limit of ${bodyLimit}` };
  }
  try {
    return { kind: 'json', value: JSON.parse(bytes.toString()) as unknown };
  } catch {
    return { kind: 'undecodable', why: 'the body is not valid JSON' };
  }
}
