import { runInNewContext } from 'node:vm';
import { describeError } from './describe-error';

describe('describeError', () => {
  it('gives an error as <name>: <message>', () => {
    expect(describeError(new Error('boom 1'))).toBe('Error: boom 1');
    expect(describeError(new TypeError('bad'))).toBe('TypeError: bad');
    class SkillInputError extends Error {
      override readonly name = 'SkillInputError';
    }
    expect(describeError(new SkillInputError('keywords: text is empty'))).toBe(
      'SkillInputError: keywords: text is empty',
    );
  });

  it('reads errors of another realm the same way', () => {
    const foreign: unknown = runInNewContext('new RangeError("out of range")');
    expect(foreign instanceof Error).toBe(false);
    expect(describeError(foreign)).toBe('RangeError: out of range');
  });

  it('falls back to the code when there is no message', () => {
    expect(describeError(Object.assign(new Error(''), { code: 'ECONNREFUSED' }))).toBe('Error: ECONNREFUSED');
  });

  it('joins the errors of an AggregateError', () => {
    const refused = (address: string) =>
      Object.assign(new Error(`connect ECONNREFUSED ${address}`), { code: 'ECONNREFUSED' });
    expect(describeError(new AggregateError([refused('::1:6379'), refused('127.0.0.1:6379')]))).toBe(
      'Error: connect ECONNREFUSED ::1:6379; Error: connect ECONNREFUSED 127.0.0.1:6379',
    );
  });

  it('gives anything else as String() does', () => {
    expect(describeError('text')).toBe('text');
    expect(describeError(42)).toBe('42');
    expect(describeError(null)).toBe('null');
    expect(describeError(undefined)).toBe('undefined');
    expect(describeError(new Error(''))).toBe('Error');
    expect(describeError({ message: 'plain object' })).toBe('plain object');
  });
});
