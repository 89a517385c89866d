// contracts does not load the Reflect metadata polyfill itself (class-transformer's @Type needs it).
import 'reflect-metadata';
import { validateSync } from 'class-validator';
import { plainToInstance } from 'class-transformer';
import { DocumentInput, FanOutWorkflowRequest, TaskAssigned } from './events';
import {
  ContractValidationError,
  flattenValidationErrors,
  formatFieldErrors,
  validatePlain,
  type FieldError,
} from './validation';

function validationErrorOf(run: () => unknown): ContractValidationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ContractValidationError) return error;
    throw error;
  }
  throw new Error('expected a ContractValidationError');
}

function fields(errors: readonly FieldError[]): string[] {
  return errors.map((e) => e.field).sort();
}

describe('validatePlain', () => {
  it('returns a class instance with nested class instances', () => {
    const result = validatePlain(
      FanOutWorkflowRequest,
      { skill: 'summarize', inputs: [{ id: 'x', text: 'y' }] },
      'request',
    );
    expect(result).toBeInstanceOf(FanOutWorkflowRequest);
    expect(result.inputs[0]).toBeInstanceOf(DocumentInput);
    expect(result.inputs[0]).toEqual({ id: 'x', text: 'y' });
  });

  it('lists every bad field with its dotted path in ContractValidationError.fieldErrors', () => {
    const error = validationErrorOf(() =>
      validatePlain(
        FanOutWorkflowRequest,
        {
          skill: 'Bad Skill',
          inputs: [
            { id: 'ok', text: 'fine' },
            { id: 'ok2', text: '' },
            { id: '', text: 'x' },
          ],
          extra: 1,
        },
        'workflow request',
      ),
    );
    expect(error.name).toBe('ContractValidationError');
    expect(error.subject).toBe('workflow request');
    expect(fields(error.fieldErrors)).toEqual(['extra', 'inputs.1.text', 'inputs.2.id', 'skill']);
    for (const e of error.fieldErrors) expect(e.messages.length).toBeGreaterThan(0);
    expect(error.message.startsWith('workflow request is invalid: ')).toBe(true);
    for (const e of error.fieldErrors) expect(error.message).toContain(`${e.field}: ${e.messages.join('; ')}`);
  });

  it('names nested single objects with their property path (TaskAssigned.input)', () => {
    const error = validationErrorOf(() =>
      validatePlain(
        TaskAssigned,
        { taskId: 'w:0', branchIndex: -1, branchCount: 1, skill: 'keywords', input: { id: 'a' } },
        'task',
      ),
    );
    expect(fields(error.fieldErrors)).toEqual(['branchIndex', 'input.text']);
  });

  it('reports a non-object as a (root) error', () => {
    for (const value of [null, undefined, 3, 'x', [{ skill: 'keywords' }]]) {
      const error = validationErrorOf(() => validatePlain(FanOutWorkflowRequest, value, 'request'));
      expect(error.fieldErrors).toEqual([{ field: '(root)', messages: ['must be an object'] }]);
    }
  });
});

describe('flattenValidationErrors / formatFieldErrors', () => {
  it('agrees with class-validator on which properties failed', () => {
    const instance = plainToInstance(FanOutWorkflowRequest, { skill: 'x y', inputs: [{ id: 'a', text: '' }] });
    const raw = validateSync(instance);
    const flat = flattenValidationErrors(raw);
    expect(fields(flat)).toEqual(['inputs.0.text', 'skill']);
    const skillError = raw.find((e) => e.property === 'skill');
    expect(flat.find((e) => e.field === 'skill')?.messages).toEqual(Object.values(skillError?.constraints ?? {}));
  });

  it('prefixes fields when given a prefix', () => {
    const instance = plainToInstance(DocumentInput, { id: 'a', text: '' });
    expect(fields(flattenValidationErrors(validateSync(instance), 'inputs.4'))).toEqual(['inputs.4.text']);
  });

  it('formats field errors as "field: m1; m2" joined by ", "', () => {
    expect(
      formatFieldErrors([
        { field: 'a', messages: ['x', 'y'] },
        { field: 'b.c', messages: ['z'] },
      ]),
    ).toBe('a: x; y, b.c: z');
  });
});
