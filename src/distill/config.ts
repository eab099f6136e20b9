import { z } from 'zod';

export const OptimizerSchema = z.discriminatedUnion('kind', [z.object({
  kind: z.literal('momentum'),
  /** Initial step size; decayed by `schedule`. */
  learningRate: z.number().positive(),
  /** 0.9 is the usual choice for ReLU MLPs trained with SGD. */
  momentum: z.number().min(0).max(0.999).default(0.9),
  nesterov: z.boolean().default(false),
  /**
   * Momentum rises linearly from `from` to `momentum` over the first `epochs` (then stays): the
   * dropout papers' schedule (0.5 → 0.99), which keeps the large early gradients from being amplified.
   */
  ramp: z.object({ from: z.number().min(0).max(0.999), epochs: z.number().int().positive() }).optional(),
}), z.object({
  kind: z.literal('adam'),
  learningRate: z.number().positive(),
  beta1: z.number().min(0).max(0.999).default(0.9),
  beta2: z.number().min(0).max(0.9999).default(0.999),
})]);

export const ScheduleSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('constant') }),
  /** lr_e = lr_0 · decay^e: the dropout paper's MNIST schedule uses 0.998 per epoch over thousands. */
  z.object({ kind: z.literal('exponential'), decayPerEpoch: z.number().positive().max(1) }),
  /** Cosine from lr_0 to 0 over the run: needs no tuning of a decay constant for short runs. */
  z.object({ kind: z.literal('cosine') }),
]);

export const LossSchema = z.object({
  /** Softmax temperature of teacher and student in the soft term; the paper's MNIST uses 20. */
  temperature: z.number().positive().default(1),
  /** Weight of the soft (teacher) term; 0 trains on labels alone. */
  softWeight: z.number().min(0).default(1),
  /** Weight of the hard-label term at T = 1; the paper weights it "considerably lower". */
  hardWeight: z.number().min(0).default(0.1),
  /** 'soft' = cross-entropy at T, scaled by T²; 'logits' = squared error between centred logits. */
  softKind: z.enum(['soft', 'logits']).default('soft'),
});

export const TrainConfig = z.object({
  epochs: z.number().int().positive(),
  /** 128 matches the PyTorch peer and keeps sgemm at full speed on two cores. */
  batchSize: z.number().int().positive().default(128),
  optimizer: OptimizerSchema,
  schedule: ScheduleSchema.default({ kind: 'constant' }),
  /** Stop after this many epochs without a better validation error (0 = never); the best weights are kept. */
  patience: z.number().int().min(0).default(0),
  /**
   * Stochastic weight averaging (Izmailov et al., 2018): from epoch `fromEpoch` (1-based) on, the run keeps the mean
   * of the weights each epoch ends with, and that mean is what validation scores, selection keeps and the run
   * returns; earlier epochs are never selected. The mean of a constant learning rate's last epochs sits in a
   * flatter region than any one of them (Izmailov et al.); on MNIST's distilled student its effect was within
   * run-to-run noise (reports/mnist/tried.md).
   */
  averageWeights: z.object({ fromEpoch: z.number().int().positive() }).optional(),
  /** Seeds the shuffling and augmentation, so a resumed run sees the batches it would have seen. */
  seed: z.number().int().default(1),
  loss: LossSchema.default({ temperature: 1, softWeight: 1, hardWeight: 0.1, softKind: 'soft' }),
}).refine((config) => !config.averageWeights || config.averageWeights.fromEpoch <= config.epochs, {
  message: 'averageWeights.fromEpoch is past the last epoch: nothing would be averaged',
  path: ['averageWeights', 'fromEpoch'],
});
export type TrainConfig = z.infer<typeof TrainConfig>;
export type TrainConfigInput = z.input<typeof TrainConfig>;

/** The momentum of epoch `epoch` (0-based) under the optimizer's ramp; undefined for Adam. */
export function momentumAt(config: TrainConfig, epoch: number): number | undefined {
  const optimizer = config.optimizer;
  if (optimizer.kind !== 'momentum') return undefined;
  if (!optimizer.ramp) return optimizer.momentum;
  const progress = Math.min(1, epoch / optimizer.ramp.epochs);
  return optimizer.ramp.from + (optimizer.momentum - optimizer.ramp.from) * progress;
}

export function learningRateAt(config: TrainConfig, epoch: number): number {
  const lr0 = config.optimizer.learningRate;
  const schedule = config.schedule;
  if (schedule.kind === 'exponential') return lr0 * schedule.decayPerEpoch ** epoch;
  if (schedule.kind === 'cosine') return lr0 * 0.5 * (1 + Math.cos((Math.PI * epoch) / config.epochs));
  return lr0;
}
