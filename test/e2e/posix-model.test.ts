// The randomized model test with a fixed seed (the same operations in every CI run): see
// test/helpers/posix-model.ts. posix-model-random.test.ts runs a fresh seed each time.
// MESHFS_MODEL_SEED=N and MESHFS_MODEL_OPS=N replay a run.
import { describeModel } from '../helpers/posix-model.ts'

describeModel('fixed seed', Number(process.env.MESHFS_MODEL_SEED ?? 20261125), Number(process.env.MESHFS_MODEL_OPS ?? 5000))
