import { createMeshEventRegistry, type EventEnvelope } from '@agent-mesh/contracts';
import { createDefaultSkillRegistry, type SkillOutput } from '@agent-mesh/skills';

/*
 * Inputs and hand-computed expectations the e2e suites share: never read back from the mesh.
 */

export const round2 = (x: number) => Math.round(x * 100 + 1e-9) / 100;

const events = createMeshEventRegistry();

/** The envelopes of one event type among raw bus messages (undecodable or other types skipped). */
export function decodeAll<T>(messages: readonly { payload: Buffer | string }[], type: string): EventEnvelope<T>[] {
  return messages
    .map((m) => events.decode(m.payload))
    .flatMap((d) => (d.ok && d.envelope.type === type ? [d.envelope as EventEnvelope<T>] : []));
}

/** What a built-in skill answers when run directly, outside the mesh. */
export async function runDirectly(skill: string, id: string, text: string): Promise<SkillOutput> {
  return createDefaultSkillRegistry().require(skill).run({ id, text }, { signal: new AbortController().signal });
}

/*
 * Market prices, from the documented formula
 *   price = round2(base × BID_PRICE_FACTOR × (1 + textLength / 1000) × (1 + load)), base 1 for the test skills.
 * MARKET_TEXT has 200 characters: size 1 + 200/1000 = 1.2.
 *   worker@cheap (factor 0.5): idle 0.5 × 1.2 = 0.6, busy with one task 0.6 × 2 = 1.2
 *   worker@dear  (factor 0.8): idle 0.8 × 1.2 = 0.96
 */
export const MARKET_TEXT = 'abcd '.repeat(40); // 200 characters, 40 words
export const CHEAP = 'worker@cheap';
export const DEAR = 'worker@dear';

/*
 * Solver rounds: the `estimate` skill's documented formula, computed by hand for SOLVER_TEXT,
 * whose six sentences have 3, 9, 5, 7, 1 and 11 words:
 *   own(i)   = mean word count of sentences 0, i+1, 2(i+1), … × 6
 *   round 1  = own(i)
 *   round r  = round2((own(i) + median(the other solvers' answers of round r-1)) / 2)
 *   combine  = median of the last round's answers
 */
export const SOLVER_TEXT =
  'Cats sleep often. The old grey cat sleeps on the warm mat. Dogs bark at the mailman. ' +
  'Birds sing loudly in the early morning. Quiet. Fish swim slowly around the small glass bowl all day long.';
export const SENTENCE_WORDS = [3, 9, 5, 7, 1, 11];

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export const own = (solver: number) => {
  const sample = SENTENCE_WORDS.filter((_, i) => i % (solver + 1) === 0);
  return round2((sample.reduce((a, b) => a + b, 0) / sample.length) * SENTENCE_WORDS.length);
};

/** The rounds computed independently; `drop` leaves a solver's answer out of a round (it failed). */
export function expectedRounds(
  solvers: number,
  rounds: number,
  drop: { round: number; solver: number }[] = [],
): Map<number, number>[] {
  const out: Map<number, number>[] = [];
  for (let r = 1; r <= rounds; r++) {
    const answers = new Map<number, number>();
    for (let i = 0; i < solvers; i++) {
      if (drop.some((d) => d.round === r && d.solver === i)) continue;
      const peers = r === 1 ? [] : [...out[r - 2]].filter(([s]) => s !== i).map(([, a]) => a);
      answers.set(i, peers.length === 0 ? own(i) : round2((own(i) + median(peers)) / 2));
    }
    out.push(answers);
  }
  return out;
}

/* Blackboards: a question, summarized, then indexed, on board `ideas`. */

export interface BoardEntry {
  sequence: number;
  entryId: string;
  kind: string;
  text: string;
  postedBy: string;
}

export interface Board {
  workflowId: string;
  stepPath: string;
  board: string;
  entries: BoardEntry[];
  counts: Record<string, number>;
}

export const QUESTION =
  'Blackboards let independent agents cooperate through a shared board. ' +
  'Each agent watches the board and posts what it knows when an entry of its kind appears. ' +
  'The weather was pleasant that day. ' +
  'A controller decides when the board holds an answer and the agents stop.';

export const summarizeThenIndex = {
  kind: 'blackboard',
  board: 'ideas',
  seed: [{ kind: 'question', text: QUESTION }],
  sources: [
    { name: 'summarizer', skill: 'summarize', on: 'question', produces: 'summary', field: 'summary' },
    { name: 'indexer', skill: 'keywords', on: 'summary', produces: 'keywords' },
  ],
  until: { kind: 'keywords', count: 1 },
  maxEntries: 10,
};

/** The board summarizeThenIndex ends with, given what `summarize` and `keywords` answer directly. */
export const expectedBoardEntries = (summary: string, keywords: string): BoardEntry[] => [
  { sequence: 1, entryId: 'seed-0', kind: 'question', text: QUESTION, postedBy: 'seed' },
  { sequence: 2, entryId: 'summarizer:seed-0', kind: 'summary', text: summary, postedBy: 'summarizer' },
  { sequence: 3, entryId: 'indexer:summarizer:seed-0', kind: 'keywords', text: keywords, postedBy: 'indexer' },
];
