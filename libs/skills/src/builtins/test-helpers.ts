import type { SkillContext } from '../skill';

export function liveContext(): SkillContext {
  return { signal: new AbortController().signal };
}

export function abortedContext(): SkillContext {
  const controller = new AbortController();
  controller.abort();
  return { signal: controller.signal };
}
