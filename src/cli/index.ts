export { backendFlag, datasetOption, flagError, numberList, parseFlags, stopOnInterrupt, TRAINING_FLAG_DEFAULTS,
  trainConfigFrom, TrainingFlags } from './args.js';
export { type ChildOptions, runChild } from './child.js';
