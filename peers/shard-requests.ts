import { isMeshError } from '../lib/errors.ts'
import type { ShardId, ShardStorage } from '../lib/ports.ts'
import * as m from './messages.ts'
import type { CallResult } from './peer-connection.ts'

/** Answers one shard request from another peer with this peer's store; errors become statuses. */
export async function serveShardRequest (store: ShardStorage, req: m.Request): Promise<CallResult> {
  const id = Buffer.from(req.shard).toString('hex') as ShardId
  try {
    switch (req.op) {
      case m.Op.Put:
      case m.Op.PutBuffered:
        if (req.data === null) return fail(m.Status.BadRequest, 'put without data')
        await store.put(id, req.data, { buffered: req.op === m.Op.PutBuffered })
        return ok(null)
      case m.Op.Sync:
        await store.sync?.()
        return ok(null)
      case m.Op.Get:
        return ok(await store.get(id))
      case m.Op.Has:
        return (await store.has(id)) ? ok(null) : fail(m.Status.NotFound, 'not found')
      case m.Op.Delete:
        return (await store.delete(id)) ? ok(null) : fail(m.Status.NotFound, 'not found')
      case m.Op.Ping:
        return ok(null)
      default:
        return fail(m.Status.BadRequest, `unknown op ${req.op as number}`)
    }
  } catch (err) {
    if (isMeshError(err, 'NOT_FOUND')) return fail(m.Status.NotFound, err.message)
    if (isMeshError(err, 'NO_SPACE')) return fail(m.Status.NoSpace, err.message)
    if (isMeshError(err, 'CORRUPT')) return fail(m.Status.Corrupt, err.message)
    if (isMeshError(err, 'BAD_ARGUMENT')) return fail(m.Status.BadRequest, err.message)
    return fail(m.Status.Failed, (err as Error)?.message ?? 'failed')
  }
}

function ok (data: Uint8Array | null): CallResult {
  return { status: m.Status.Ok, data, message: '' }
}

function fail (status: m.Status, message: string): CallResult {
  return { status, data: null, message }
}
