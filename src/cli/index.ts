export { datasetOption, numberList, stopOnInterrupt, TRAINING_FLAG_DEFAULTS, trainConfigFrom, TrainingFlags } from './args.js';
