import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { createBuiltInSkills } from './builtins';
import { createDefaultSkillRegistry, SkillRegistry } from './registry';
import { SkillInputError, type Skill } from './skill';

function fakeSkill(name: string): Skill {
  return { name, description: `fake ${name}`, run: async () => ({}), combine: () => ({}) };
}

describe('SkillRegistry', () => {
  it('registers, gets and lists skills', () => {
    const registry = new SkillRegistry().register(fakeSkill('zeta')).register(fakeSkill('alpha'));
    expect(registry.names()).toEqual(['alpha', 'zeta']);
    expect(registry.get('alpha')?.description).toBe('fake alpha');
    expect(registry.get('missing')).toBeUndefined();
    expect(registry.has('zeta')).toBe(true);
    expect(registry.list().map((s) => s.name)).toEqual(['alpha', 'zeta']);
  });

  it('require throws naming the skill and listing the available ones', () => {
    const registry = new SkillRegistry([fakeSkill('beta'), fakeSkill('alpha')]);
    expect(registry.require('beta').name).toBe('beta');
    expect(() => registry.require('gamma')).toThrow('Unknown skill "gamma"; available: alpha, beta');
    expect(() => new SkillRegistry().require('x')).toThrow(/Unknown skill "x"; available: \(none registered\)/);
  });

  it('rejects duplicate and invalid names', () => {
    const registry = new SkillRegistry([fakeSkill('alpha')]);
    expect(() => registry.register(fakeSkill('alpha'))).toThrow(/already registered/);
    expect(() => registry.register(fakeSkill('Bad Name'))).toThrow(/Invalid skill name/);
    expect(() => registry.register(fakeSkill('tasks.x'))).toThrow(/Invalid skill name/);
  });
});

describe('built-in skills', () => {
  const docsDir = join(__dirname, '../../../data/documents');
  const docs = readdirSync(docsDir)
    .filter((f) => f.endsWith('.txt'))
    .sort()
    .map((f) => ({ id: f, text: readFileSync(join(docsDir, f), 'utf8') }));

  it('are estimate, keywords, readability, sentiment and summarize', () => {
    expect(createBuiltInSkills().map((s) => s.name)).toEqual([
      'estimate',
      'keywords',
      'readability',
      'sentiment',
      'summarize',
    ]);
    expect(createDefaultSkillRegistry().names()).toEqual([
      'estimate',
      'keywords',
      'readability',
      'sentiment',
      'summarize',
    ]);
  });

  it('ship four demo documents of 150-300 words', () => {
    expect(docs).toHaveLength(4);
    for (const doc of docs) {
      const count = doc.text.split(/\s+/).filter((w) => w.length > 0).length;
      expect(count).toBeGreaterThanOrEqual(150);
      expect(count).toBeLessThanOrEqual(300);
    }
  });

  it.each(createBuiltInSkills().map((s) => [s.name, s] as const))(
    '%s runs on every demo document, rejects empty text and combines deterministically',
    async (_name, skill) => {
      const signal = new AbortController().signal;
      const outputs = [];
      for (const doc of docs) {
        const output = await skill.run(doc, { signal });
        expect(JSON.parse(JSON.stringify(output))).toEqual(output);
        outputs.push({ inputId: doc.id, output });
      }
      const combined = skill.combine(outputs);
      expect(skill.combine(JSON.parse(JSON.stringify(outputs)))).toEqual(combined);
      await expect(skill.run({ id: 'empty', text: '  ' }, { signal })).rejects.toBeInstanceOf(SkillInputError);
    },
  );

  it('finds the obvious topic of each demo document', async () => {
    const keywords = createDefaultSkillRegistry().require('keywords');
    const signal = new AbortController().signal;
    const top: Record<string, string> = {};
    for (const doc of docs) {
      const out = (await keywords.run(doc, { signal })) as { keywords: { term: string }[] };
      top[doc.id] = out.keywords[0].term;
    }
    expect(top['battery-recycling.txt']).toBe('batteries');
    expect(top['urban-beekeeping.txt']).toBe('hives');
  });
});
