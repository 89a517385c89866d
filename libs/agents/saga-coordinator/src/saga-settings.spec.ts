import { DEFAULT_RETRY_POLICY } from '@agent-mesh/contracts';
import { sagaSettings } from './saga-settings';

describe('sagaSettings', () => {
  it('defaults: the wait is the task timeout, the retries the default policy', () => {
    expect(sagaSettings({}, 60_000)).toEqual({ resultWaitMs: 60_000, compensationRetry: DEFAULT_RETRY_POLICY });
  });

  it('reads SAGA_RESULT_WAIT_MS, SAGA_COMPENSATION_ATTEMPTS and SAGA_COMPENSATION_BACKOFF_MS', () => {
    const settings = sagaSettings(
      { SAGA_RESULT_WAIT_MS: '250', SAGA_COMPENSATION_ATTEMPTS: '3', SAGA_COMPENSATION_BACKOFF_MS: '40' },
      60_000,
    );
    expect(settings.resultWaitMs).toBe(250);
    expect(settings.compensationRetry).toMatchObject({ attempts: 3, initialDelayMs: 40 });
  });

  it('stops start-up naming a bad setting', () => {
    expect(() => sagaSettings({ SAGA_RESULT_WAIT_MS: 'soon' }, 1000)).toThrow(/SAGA_RESULT_WAIT_MS must be an integer/);
    expect(() => sagaSettings({ SAGA_COMPENSATION_ATTEMPTS: '0' }, 1000)).toThrow(
      /SAGA_COMPENSATION_ATTEMPTS must be an integer of at least 1/,
    );
    expect(() => sagaSettings({ SAGA_COMPENSATION_BACKOFF_MS: '-5' }, 1000)).toThrow(/SAGA_COMPENSATION_BACKOFF_MS/);
  });
});
