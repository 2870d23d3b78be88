import { jest } from '@jest/globals';
import { type Delivery, type Receiver } from 'rhea';
import { LinkCredit, RETRY_INITIAL_MS } from './amqp-credit.js';

/** A receiver as rhea keeps it: `credit` is what the broker may still send; each flow is recorded. */
function fakeReceiver() {
  const flows: number[] = [];
  const receiver = {
    credit: 0,
    issue_flow: false,
    connection: {
      _register: () => {
        flows.push(receiver.credit);
        receiver.issue_flow = false;
      },
    },
    add_credit(credit: number) {
      receiver.credit += credit;
      flows.push(receiver.credit);
    },
  };
  return { receiver, flows, asReceiver: receiver as unknown as Receiver };
}

function fakeDelivery() {
  const settled: string[] = [];
  const delivery = {
    accept: () => settled.push('accepted'),
    release: () => settled.push('released'),
  };
  return { settled, delivery: delivery as unknown as Delivery };
}

describe('LinkCredit', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  /** A link with `prefetch` credit, `received` messages of which have arrived. */
  const link = (prefetch: number, received: number) => {
    const fake = fakeReceiver();
    const credit = new LinkCredit(fake.asReceiver, prefetch);
    credit.open();
    for (let i = 0; i < received; i++) {
      fake.receiver.credit--;
      credit.received();
    }
    return { ...fake, credit };
  };

  it('gives back the credit of each message settled', () => {
    const { receiver, credit } = link(4, 2);
    const { settled, delivery } = fakeDelivery();
    credit.settle(delivery, (d) => d.accept());
    expect(settled).toEqual(['accepted']);
    expect(receiver.credit).toBe(3);
  });

  it('withdraws all credit before it releases, and releases on the next turn', () => {
    const { receiver, flows, credit } = link(4, 1);
    const { settled, delivery } = fakeDelivery();
    credit.release(delivery);
    expect(receiver.credit).toBe(0);
    expect(flows.at(-1)).toBe(0);
    expect(settled).toEqual([]);
    jest.advanceTimersByTime(0);
    expect(settled).toEqual(['released']);
  });

  it('gives one probe credit after the backoff, doubling it while releases go on', () => {
    const { receiver, credit } = link(4, 1);
    credit.release(fakeDelivery().delivery);
    jest.advanceTimersByTime(RETRY_INITIAL_MS - 1);
    expect(receiver.credit).toBe(0);
    jest.advanceTimersByTime(1);
    expect(receiver.credit).toBe(1);

    // The probe comes back and is released again: twice as long this time.
    receiver.credit--;
    credit.received();
    credit.release(fakeDelivery().delivery);
    jest.advanceTimersByTime(2 * RETRY_INITIAL_MS - 1);
    expect(receiver.credit).toBe(0);
    jest.advanceTimersByTime(1);
    expect(receiver.credit).toBe(1);
  });

  it('does not restart the backoff for messages released while it waits', () => {
    const { receiver, credit } = link(4, 3);
    credit.release(fakeDelivery().delivery);
    jest.advanceTimersByTime(RETRY_INITIAL_MS / 2);
    credit.release(fakeDelivery().delivery);
    jest.advanceTimersByTime(RETRY_INITIAL_MS / 2);
    expect(receiver.credit).toBe(1);
  });

  it('flows again with its full credit once a message is settled', () => {
    const { receiver, credit } = link(4, 2);
    credit.release(fakeDelivery().delivery);
    jest.advanceTimersByTime(RETRY_INITIAL_MS);
    receiver.credit--;
    credit.received();
    credit.settle(fakeDelivery().delivery, (d) => d.accept());
    // One message is still unsettled: it holds one of the four.
    expect(receiver.credit).toBe(3);
  });

  it('settles and credits nothing once its link is closed', () => {
    const { receiver, credit } = link(4, 2);
    credit.close();
    const { settled, delivery } = fakeDelivery();
    credit.settle(delivery, (d) => d.accept());
    credit.release(delivery);
    jest.advanceTimersByTime(10 * RETRY_INITIAL_MS);
    expect(settled).toEqual([]);
    expect(receiver.credit).toBe(2);
  });
});
