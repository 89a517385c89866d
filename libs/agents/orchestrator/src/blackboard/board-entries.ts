import { fieldOf, MAX_INPUT_TEXT, type KnowledgeSourceSpec } from '@agent-mesh/contracts';

/**
 * How board entries, source tasks and their ids relate. A source reacting to entry E runs as
 * task `<workflow>:<step>:bb:<source>:<E>`; its result is posted as entry `<source>:<E>`. Ids are
 * stable, so a task run twice posts the same entry twice, and the board keeps it once.
 */

export function sourceTaskId(workflowId: string, stepPath: string, source: string, entryId: string): string {
  return `${workflowId}:${stepPath}:bb:${source}:${entryId}`;
}

/** The source and the entry it reacted to, from a source task's id; undefined if not one of this step's. */
export function parseSourceTaskId(
  taskId: string,
  workflowId: string,
  stepPath: string,
): { source: string; reactedTo: string } | undefined {
  const prefix = `${workflowId}:${stepPath}:bb:`;
  if (!taskId.startsWith(prefix)) return undefined;
  const rest = taskId.slice(prefix.length);
  const colon = rest.indexOf(':'); // source names have no colon; entry ids may
  if (colon <= 0 || colon === rest.length - 1) return undefined;
  return { source: rest.slice(0, colon), reactedTo: rest.slice(colon + 1) };
}

export function sourceEntryId(source: string, reactedTo: string): string {
  return `${source}:${reactedTo}`;
}

const INPUT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The task input's id: the entry id, or `entry-<sequence>` when that is not a valid input id
 * (ids grow by a source name per reaction and pass 128 characters in long chains).
 */
export function taskInputId(entryId: string, sequence: number): string {
  return INPUT_ID.test(entryId) ? entryId : `entry-${sequence}`;
}

/**
 * The text a source posts: its `field` of the output (a string as is, any other value as JSON),
 * or the whole output as JSON. An error when there is nothing to post or it is too long to be
 * an entry (and the input of the next source).
 */
export function entryText(
  source: KnowledgeSourceSpec,
  output: Record<string, unknown>,
): { text: string } | { error: string } {
  let text: string;
  if (source.field !== undefined) {
    const value = fieldOf(output, source.field);
    if (value === undefined)
      return { error: `source ${source.name}: the ${source.skill} output has no "${source.field}"` };
    text = typeof value === 'string' ? value : JSON.stringify(value);
  } else {
    text = JSON.stringify(output);
  }
  if (text.trim().length === 0)
    return {
      error: `source ${source.name}: ${source.field ? `"${source.field}" of ` : ''}the ${source.skill} output is empty`,
    };
  if (text.length > MAX_INPUT_TEXT) {
    return {
      error: `source ${source.name}: the entry would be ${text.length} characters, more than ${MAX_INPUT_TEXT}`,
    };
  }
  return { text };
}
