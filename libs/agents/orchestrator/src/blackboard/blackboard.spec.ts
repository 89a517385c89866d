import { MAX_INPUT_TEXT, type KnowledgeSourceSpec } from '@agent-mesh/contracts';
import { MemoryStateStore } from '@agent-mesh/state';
import { entryText, parseSourceTaskId, sourceEntryId, sourceTaskId, taskInputId } from './board-entries';
import { BoardStore, boardKeys } from './board-store';

const source = (over: Partial<KnowledgeSourceSpec> = {}): KnowledgeSourceSpec =>
  ({ name: 'summarizer', skill: 'summarize', on: 'question', produces: 'summary', ...over }) as KnowledgeSourceSpec;

describe('source task ids', () => {
  it('round-trip the source and the entry it reacted to, colons in the entry id included', () => {
    const taskId = sourceTaskId('wf-1', 'root.stages.0', 'indexer', 'summarizer:seed-0');
    expect(taskId).toBe('wf-1:root.stages.0:bb:indexer:summarizer:seed-0');
    expect(parseSourceTaskId(taskId, 'wf-1', 'root.stages.0')).toEqual({
      source: 'indexer',
      reactedTo: 'summarizer:seed-0',
    });
    expect(sourceEntryId('indexer', 'summarizer:seed-0')).toBe('indexer:summarizer:seed-0');
  });

  it('are not read as another workflow’s or step’s, nor without a source or an entry', () => {
    const taskId = sourceTaskId('wf-1', 'root', 'indexer', 'seed-0');
    expect(parseSourceTaskId(taskId, 'wf-2', 'root')).toBeUndefined();
    expect(parseSourceTaskId(taskId, 'wf-1', 'root.stages.0')).toBeUndefined();
    expect(parseSourceTaskId('wf-1:root:1', 'wf-1', 'root')).toBeUndefined();
    expect(parseSourceTaskId('wf-1:root:bb:indexer:', 'wf-1', 'root')).toBeUndefined();
    expect(parseSourceTaskId('wf-1:root:bb::seed-0', 'wf-1', 'root')).toBeUndefined();
  });

  it('use the entry id as the task input id while it is a valid one, else the entry’s place on the board', () => {
    expect(taskInputId('a:b:seed-0', 7)).toBe('a:b:seed-0');
    expect(taskInputId(`${'loop:'.repeat(30)}seed-0`, 31)).toBe('entry-31');
  });
});

describe('entry text', () => {
  it('is the named field when it is text', () => {
    expect(entryText(source({ field: 'summary' }), { summary: 'Short.', sentences: [] })).toEqual({ text: 'Short.' });
    expect(entryText(source({ field: 'a.b' }), { a: { b: 'deep' } })).toEqual({ text: 'deep' });
  });

  it('is JSON for any other field value, and the whole output as JSON without a field', () => {
    expect(entryText(source({ field: 'keywords' }), { keywords: [{ term: 'x', score: 1 }] })).toEqual({
      text: '[{"term":"x","score":1}]',
    });
    expect(entryText(source(), { keywords: ['x'], n: 1 })).toEqual({ text: '{"keywords":["x"],"n":1}' });
  });

  it('is an error naming the source when the field is missing or empty, or the text too long', () => {
    expect(entryText(source({ field: 'summary' }), { other: 'x' })).toEqual({
      error: 'source summarizer: the summarize output has no "summary"',
    });
    expect(entryText(source({ field: 'summary' }), { summary: '  ' })).toEqual({
      error: 'source summarizer: "summary" of the summarize output is empty',
    });
    const long = entryText(source({ field: 'summary' }), { summary: 'x'.repeat(MAX_INPUT_TEXT + 1) });
    expect('error' in long && long.error).toContain(`more than ${MAX_INPUT_TEXT}`);
  });
});

describe('BoardStore', () => {
  const entry = (entryId: string, kind: string) => ({
    entryId,
    kind,
    text: `text of ${entryId}`,
    postedBy: entryId.includes(':') ? entryId.split(':')[0] : 'seed',
  });

  it('adds each entry once, numbering them in order and counting kinds', async () => {
    const boards = new BoardStore(new MemoryStateStore());
    expect(await boards.add('wf', 'root', entry('seed-0', 'question'), false)).toBe(1);
    expect(await boards.add('wf', 'root', entry('s:seed-0', 'summary'), true)).toBe(2);
    expect(await boards.add('wf', 'root', entry('s:seed-0', 'summary'), true)).toBeUndefined();
    expect(await boards.add('wf', 'root', entry('k:s:seed-0', 'summary'), true)).toBe(3);
    const view = await boards.read('wf', 'root');
    expect(view.entries.map((e) => [e.sequence, e.entryId])).toEqual([
      [1, 'seed-0'],
      [2, 's:seed-0'],
      [3, 'k:s:seed-0'],
    ]);
    expect(view.counts).toEqual({ question: 1, summary: 2 });
    expect(await boards.read('wf', 'root.stages.1')).toEqual({ entries: [], counts: {} });
  });

  it('counts source tasks pending until their entry is on the board or they end, each task once', async () => {
    const boards = new BoardStore(new MemoryStateStore());
    await boards.taskAssigned('wf', 'root', 'wf:root:bb:s:seed-0');
    await boards.taskAssigned('wf', 'root', 'wf:root:bb:s:seed-0');
    await boards.taskAssigned('wf', 'root', 'wf:root:bb:t:seed-0');
    expect(await boards.pending('wf', 'root')).toBe(2);
    await boards.add('wf', 'root', entry('s:seed-0', 'summary'), true);
    await boards.add('wf', 'root', entry('s:seed-0', 'summary'), true);
    expect(await boards.pending('wf', 'root')).toBe(1);
    await boards.taskEnded('wf', 'root', 'wf:root:bb:t:seed-0');
    await boards.taskEnded('wf', 'root', 'wf:root:bb:t:seed-0');
    expect(await boards.pending('wf', 'root')).toBe(0);
  });

  it('replaces a lost board, and an entry on the replaced board is not added again', async () => {
    const state = new MemoryStateStore();
    const boards = new BoardStore(state);
    await boards.add('wf', 'root', entry('seed-0', 'question'), false);
    await boards.add('wf', 'root', entry('s:seed-0', 'summary'), true);
    const before = await boards.read('wf', 'root');
    await state.apply(boardKeys('wf', 'root').map((key) => ({ op: 'del' as const, key })));
    expect((await boards.read('wf', 'root')).entries).toEqual([]);
    await boards.replace(
      'wf',
      'root',
      before.entries.map(({ sequence: _sequence, ...e }) => e),
    );
    expect(await boards.read('wf', 'root')).toEqual(before);
    // After a real loss (a new Redis) the markers are gone too: the rebuilt board itself refuses a second copy.
    const restored = new BoardStore(new MemoryStateStore());
    await restored.replace(
      'wf',
      'root',
      before.entries.map(({ sequence: _sequence, ...e }) => e),
    );
    expect(await restored.add('wf', 'root', entry('s:seed-0', 'summary'), true)).toBeUndefined();
    expect(await restored.add('wf', 'root', entry('k:s:seed-0', 'keywords'), true)).toBe(3);
    expect((await restored.read('wf', 'root')).counts).toEqual({ question: 1, summary: 1, keywords: 1 });
  });
});
