import { sizeOf } from './architecture.js';
import { BundleError } from './errors.js';
import type { Architecture, Manifest } from './manifest.js';

/**
 * Checks each model's architecture against what the bundle says it is for: every model reads one
 * example of the dataset, the generalist and the student have one output per class, and a
 * specialist one per class of its cluster plus the dustbin. `architectures` maps a model's field
 * (generalist, specialists[i], student) to its architecture: the manifest's own at save time, the
 * loaded models' at load time. `file` names the model file in errors (the manifest at save time).
 */
export function checkShapes(manifest: Manifest, architectures: Map<string, Architecture>,
  file: (field: string) => string): void {
  const { dataset } = manifest;
  const features = sizeOf(dataset.inputShape);
  const numClasses = dataset.classNames.length;
  const expectations: [string, number, string][] = [['generalist', numClasses,
    `the ${numClasses} classes of dataset "${dataset.name}"`]];
  manifest.specialists.forEach((specialist, i) => {
    expectations.push([`specialists[${i}]`, specialist.classes.length + 1,
      `its ${specialist.classes.length} classes + 1 dustbin`]);
  });
  if (manifest.student) {
    expectations.push(['student', numClasses, `the ${numClasses} classes of dataset "${dataset.name}"`]);
  }
  manifest.members?.models.forEach((_, i) =>
    expectations.push([`members.models[${i}]`, numClasses, `the ${numClasses} classes of dataset "${dataset.name}"`])
  );
  for (const [field, outputs, why] of expectations) {
    const architecture = architectures.get(field);
    if (!architecture) continue;
    const inputs = sizeOf(architecture.inputShape);
    if (inputs !== features) {
      throw new BundleError('SHAPE', file(field), `${field}.architecture.inputShape`,
        `the ${field} model reads [${
          architecture.inputShape.join(', ')
        }] (${inputs} features), but dataset.inputShape [${dataset.inputShape.join(', ')}] has ${features}`);
    }
    if (architecture.outputSize !== outputs) {
      throw new BundleError('SHAPE', file(field), `${field}.architecture.outputSize`,
        `the ${field} model has ${architecture.outputSize} outputs, but needs ${outputs}: ${why}`);
    }
  }
}
