import { Webhook } from 'standardwebhooks';
import { signatureHeaders, webhookKey } from './webhook-sink.js';

describe('webhook signatures (Standard Webhooks)', () => {
  const body = JSON.stringify({ commandId: 'c1', status: 'SENT', historyId: '7' });
  const now = () => Math.floor(Date.now() / 1000);

  it('verifies with the reference library given a whsec_ secret', () => {
    const secret = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
    const headers = signatureHeaders(webhookKey(secret), '812-7', now(), body);
    expect(headers['webhook-id']).toBe('812-7');
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('verifies with the reference library in raw format given a plain secret', () => {
    const secret = 'a-plain-secret-of-some-length';
    const headers = signatureHeaders(webhookKey(secret), '812-7', now(), body);
    expect(new Webhook(secret, { format: 'raw' }).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('is refused for another body, id or secret', () => {
    const secret = 'a-plain-secret-of-some-length';
    const headers = signatureHeaders(webhookKey(secret), '812-7', now(), body);
    const verifier = new Webhook(secret, { format: 'raw' });
    expect(() => verifier.verify(body.replace('SENT', 'FAILED'), headers)).toThrow();
    expect(() => verifier.verify(body, { ...headers, 'webhook-id': '812-8' })).toThrow();
    expect(() =>
      new Webhook('another-plain-secret', { format: 'raw' }).verify(body, headers),
    ).toThrow();
  });

  it('signs "id.timestamp.body" with HMAC-SHA256 as v1,<base64>', () => {
    const headers = signatureHeaders(Buffer.from('k'), 'i', 1, 'b');
    // echo -n 'i.1.b' | openssl dgst -sha256 -hmac k -binary | base64
    expect(headers['webhook-signature']).toBe('v1,d620B7HIIqRqWuwfj9vDoK5tdncddDc9tRCaeHXxbaY=');
    expect(headers['webhook-timestamp']).toBe('1');
  });
});
