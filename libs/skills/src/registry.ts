import type { Skill } from './skill';
import { createBuiltInSkills } from './builtins';

/** Skill names are also topic suffixes (`tasks.<name>`), so they stay simple. */
const SKILL_NAME = /^[a-z][a-z0-9-]*$/;

/** Skills by name. A worker registers the skills it offers and looks them up per task. */
export class SkillRegistry {
  private readonly skills = new Map<string, Skill>();

  constructor(skills: Iterable<Skill> = []) {
    for (const skill of skills) this.register(skill);
  }

  /** Adds a skill; throws if the name is invalid or already taken. Returns `this` for chaining. */
  register(skill: Skill): this {
    if (!SKILL_NAME.test(skill.name)) {
      throw new Error(
        `Invalid skill name "${skill.name}": use lower-case letters, digits and "-", starting with a letter`,
      );
    }
    if (this.skills.has(skill.name)) throw new Error(`Skill "${skill.name}" is already registered`);
    this.skills.set(skill.name, skill);
    return this;
  }

  get(name: string): Skill | undefined {
    return this.skills.get(name);
  }

  has(name: string): boolean {
    return this.skills.has(name);
  }

  /** The skill, or an Error naming it and listing the registered ones. */
  require(name: string): Skill {
    const skill = this.skills.get(name);
    if (!skill) {
      const available = this.names();
      throw new Error(
        `Unknown skill "${name}"; available: ${available.length > 0 ? available.join(', ') : '(none registered)'}`,
      );
    }
    return skill;
  }

  /** Registered names, sorted. */
  names(): string[] {
    return [...this.skills.keys()].sort();
  }

  /** Registered skills, sorted by name. */
  list(): Skill[] {
    return this.names().map((name) => this.skills.get(name) as Skill);
  }
}

/** A registry holding every built-in skill. */
export function createDefaultSkillRegistry(): SkillRegistry {
  return new SkillRegistry(createBuiltInSkills());
}
