import { describe, expect, it } from 'vitest';
import { parseTestTimers } from './test-timers.js';

describe('OVERLAYD_TEST_WG_TIMERS', () => {
  it('is absent unless set', () => {
    expect(parseTestTimers(undefined)).toBeUndefined();
    expect(parseTestTimers('')).toBeUndefined();
  });
  it('reads seconds per timer', () => {
    expect(parseTestTimers('{"rekeyAfterTime":10,"rejectAfterTime":15.5}')).toEqual({
      rekeyAfterTime: 10,
      rejectAfterTime: 15.5,
    });
  });
  it.each([
    ['{', /is not JSON/],
    ['[1]', /is not a JSON object/],
    ['{"rekeyAfter":1}', /unknown key "rekeyAfter"/],
    ['{"rekeyTimeout":0}', /rekeyTimeout=0/],
    ['{"rekeyTimeout":"5"}', /rekeyTimeout="5"/],
  ])('refuses %s in one line', (raw, msg) => {
    expect(() => parseTestTimers(raw)).toThrow(msg);
    expect(() => parseTestTimers(raw)).toThrow(/^OVERLAYD_TEST_WG_TIMERS [^\n]*$/);
  });
});
