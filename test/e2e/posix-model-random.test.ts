// The randomized model test with a new seed every run (printed; replay it with
// MESHFS_MODEL_SEED=N npx vitest run test/e2e/posix-model.test.ts): see test/helpers/posix-model.ts.
import { randomInt } from 'node:crypto'
import { describeModel } from '../helpers/posix-model.ts'

describeModel('random seed', randomInt(2 ** 31), Number(process.env.MESHFS_MODEL_OPS ?? 5000))
