import { redactCredentials, redactSecrets } from './redact';

describe('redactCredentials', () => {
  it.each([
    ['redis://:s3cret@127.0.0.1:6379', 'redis://:***@127.0.0.1:6379'],
    ['rediss://mesh:s3cret@cache:6380/2', 'rediss://mesh:***@cache:6380/2'],
    ['pulsar+ssl://tok3n@broker:6651', 'pulsar+ssl://***@broker:6651'],
    ['http://admin:pa:ss@127.0.0.1:8080/ws', 'http://admin:***@127.0.0.1:8080/ws'],
    ['https://idp.example/jwks?token=abc&x=1', 'https://idp.example/jwks?token=***&x=1'],
    ['redis://:p@ss@host/0', 'redis://:***@host/0'],
    ['redis://u:s3cret@host:notaport', 'redis://u:***@host:notaport'],
    ['at redis://:a@h and http://b:c@i', 'at redis://:***@h and http://b:***@i'],
    ['redis://127.0.0.1:6379', 'redis://127.0.0.1:6379'],
    ['a@b.c is an address, not a URL', 'a@b.c is an address, not a URL'],
  ])('%s → %s', (text, expected) => {
    expect(redactCredentials(text)).toBe(expected);
  });
});

describe('redactSecrets', () => {
  it('hides each known secret wherever it appears, and URL credentials', () => {
    const text = 'key k1-0123456789abcdef refused; token tok-1 at redis://:pw@h';
    expect(redactSecrets(text, ['k1-0123456789abcdef', 'tok-1', undefined, ''])).toBe(
      'key *** refused; token *** at redis://:***@h',
    );
  });
});
