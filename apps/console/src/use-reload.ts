import { useEffect, useRef, useState } from 'react';

/** At most one read per this long, however many events come in (a burst of step events). */
const MIN_INTERVAL_MS = 300;

/**
 * Reads `load()` now, then again when `trigger` changes — at most once per 300 ms, the last
 * change always read. Gives the latest value, or the error of the latest read.
 */
export function useReload<T>(load: () => Promise<T>, trigger: unknown, deps: readonly unknown[]) {
  const [value, setValue] = useState<T>();
  const [error, setError] = useState<Error>();
  const last = useRef(0);
  useEffect(() => {
    let cancelled = false;
    const wait = Math.max(0, last.current + MIN_INTERVAL_MS - Date.now());
    const timer = setTimeout(() => {
      last.current = Date.now();
      load().then(
        (result) => {
          if (cancelled) return;
          setValue(result);
          setError(undefined);
        },
        (failure: unknown) => {
          if (!cancelled) setError(failure instanceof Error ? failure : new Error(String(failure)));
        },
      );
    }, wait);
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
    // `load` changes with `deps`: they, and the trigger, say when to read again.
  }, [trigger, ...deps]);
  return { value, error };
}

/** Re-renders every `ms` (running durations grow). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms]);
  return now;
}
