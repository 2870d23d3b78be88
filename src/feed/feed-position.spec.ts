import { comparePositions, decodePosition, encodePosition } from './feed-position.js';

describe('feed positions', () => {
  it.each([
    [{ xid: 0n, id: 0n }, '0-0'],
    [{ xid: 751n, id: 42n }, '751-42'],
    [{ xid: 2n ** 63n - 1n, id: 2n ** 63n - 1n }, '9223372036854775807-9223372036854775807'],
  ])('encodes %p as %s and decodes it back', (position, text) => {
    expect(encodePosition(position)).toBe(text);
    expect(decodePosition(text)).toEqual(position);
  });

  it.each([
    ['a bare number', '42'],
    ['a negative part', '5--1'],
    ['a part above bigint', `${2n ** 63n}-1`],
    ['three parts', '1-2-3'],
    ['spaces', '1 -2'],
    ['nothing', ''],
  ])('refuses %s', (_name, text) => {
    expect(decodePosition(text)).toBeUndefined();
  });

  it.each([
    ['an older transaction first, whatever its history id', '7-90', '8-3', -1],
    ['history ids within one transaction', '8-3', '8-4', -1],
    ['the same position', '8-4', '8-4', 0],
    ['a newer transaction after', '9-1', '8-400', 1],
  ])('orders %s', (_name, a, b, sign) => {
    expect(Math.sign(comparePositions(decodePosition(a)!, decodePosition(b)!))).toBe(sign);
  });
});
