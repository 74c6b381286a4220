import { describe, expect, it } from 'vitest';
import { parseCidr } from './ipv4.js';
import { parseSubnetKey, subnetKeyOf } from './subnet-key.js';

describe('lease keys', () => {
  it('encodes subnets the way flannel names keys', () => {
    expect(subnetKeyOf(parseCidr('10.244.3.0/24')!)).toBe('10.244.3.0-24');
  });

  it('parses flannel keys, including dual-stack ones and full paths', () => {
    expect(parseSubnetKey('10.244.3.0-24')).toEqual(parseCidr('10.244.3.0/24'));
    expect(parseSubnetKey('/coreos.com/network/subnets/10.244.3.0-24')).toEqual(parseCidr('10.244.3.0/24'));
    expect(parseSubnetKey('10.244.1.0-24&fd00:1::-64')).toEqual(parseCidr('10.244.1.0/24'));
  });

  it('rejects keys flannel would not accept or that name no subnet', () => {
    for (const bad of [
      '10.244.3.0',
      '10.244.3.0-24x',
      'garbage',
      '10.244.300.0-24',
      '10.244.3.5-24',
      '10.244.3.0-40',
    ]) {
      expect(parseSubnetKey(bad), bad).toBeUndefined();
    }
  });
});
