export { datasetOption, numberList, parseFlags, stopOnInterrupt, TRAINING_FLAG_DEFAULTS, trainConfigFrom, TrainingFlags } from './args.js';
