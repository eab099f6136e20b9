export { backendFlag, datasetOption, exitWithHelpIfAsked, flagError, numberList, parseFlags, scriptArgs, scriptUsage,
  stopOnInterrupt, TRAINING_FLAG_DEFAULTS, trainConfigFrom, TrainingFlags } from './args.js';
export { type ChildOptions, runChild } from './child.js';
