import { z } from 'zod';

/** One specialist as routing and combining see it: output k is classes[k], output classes.length is the dustbin. */
export const SpecialistSpecSchema = z.object({
  id: z.string().min(1),
  classes: z.array(z.int().nonnegative()).min(1),
});
export type SpecialistSpec = z.infer<typeof SpecialistSpecSchema>;

/** The specialists over N classes, with the reverse map routing needs. Plain arrays: it owns no tensors. */
export interface SpecialistIndex {
  readonly numClasses: number;
  readonly specialists: readonly SpecialistSpec[];
  /** For each class, the positions (in `specialists`) of the specialists that cover it, ascending. */
  readonly byClass: readonly (readonly number[])[];
}

function indexSchema(numClasses: number) {
  return z.array(SpecialistSpecSchema).superRefine((specs, ctx) => {
    const seen = new Set<string>();
    specs.forEach((spec, s) => {
      if (seen.has(spec.id)) {
        ctx.addIssue({ code: 'custom', path: [s, 'id'], message: `duplicate specialist id "${spec.id}"` });
      }
      seen.add(spec.id);
      const bad = spec.classes.find((c) => c >= numClasses);
      if (bad !== undefined) {
        ctx.addIssue({ code: 'custom', path: [s, 'classes'], message: `class ${bad} is outside 0..${numClasses - 1}` });
      }
      if (new Set(spec.classes).size !== spec.classes.length) {
        ctx.addIssue({ code: 'custom', path: [s, 'classes'], message: 'lists a class twice' });
      }
      // The dustbin stands for "one of the other classes": with none left, its mass has nowhere to
      // go and KL(p_m‖q̃_m) is infinite for every q.
      if (new Set(spec.classes).size >= numClasses) {
        ctx.addIssue({ code: 'custom', path: [s, 'classes'],
          message: 'covers every class: a dustbin needs at least one class outside' });
      }
    });
  });
}

/**
 * Validates the specialists against the class count and builds the class → specialists map.
 * Throws one message listing every problem by path (`2.classes: class 12 is outside 0..9`).
 *
 * @example
 *   const index = buildSpecialistIndex([{ id: 'cats', classes: [3, 5] }, { id: 'cars', classes: [1, 9] }], 10);
 *   index.byClass[5]; // [0]
 */
export function buildSpecialistIndex(specialists: readonly SpecialistSpec[], numClasses: number): SpecialistIndex {
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new Error(`specialist index: numClasses must be an integer ≥ 2, got ${numClasses}`);
  }
  const parsed = indexSchema(numClasses).safeParse(specialists);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    throw new Error(`specialist index: invalid specialists\n${lines.join('\n')}`);
  }
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  parsed.data.forEach((spec, s) => {
    for (const c of spec.classes) byClass[c].push(s);
  });
  return { numClasses, specialists: parsed.data, byClass };
}
