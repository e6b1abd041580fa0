/**
 * The signed audit export over HTTP (docs/AUDIT.md): `GET /audit/export?from=&to=` (admin) answers
 * the file `kawasan audit verify` checks, byte for byte (canonical JSON, Ed25519 signed with the
 * estate's key from the data directory).
 */
import type { FastifyPluginAsync } from 'fastify'
import type { ZodTypeProvider } from 'fastify-type-provider-zod'
import { z } from 'zod'
import { buildAuditExport } from '../../audit/export.js'
import { documentText, loadOrCreateSigningKey, signDocument } from '../../audit/signing.js'
import { errorSchema } from '../schemas.js'
import type { RouteContext } from './context.js'
import { apiErrorOf } from './manual-routes.js'

export function auditRoutes(ctx: RouteContext): FastifyPluginAsync {
  return async (fastify) => {
    const app = fastify.withTypeProvider<ZodTypeProvider>()
    app.get(
      '/audit/export',
      {
        config: { scope: 'admin' },
        schema: {
          tags: ['audit'],
          summary: 'Signed audit export of a period of local days (from..to inclusive)',
          querystring: z.strictObject({
            from: z.string().describe('First local day, YYYY-MM-DD'),
            to: z.string().describe('Last local day, YYYY-MM-DD'),
          }),
          response: { 400: errorSchema, 401: errorSchema, 403: errorSchema, 503: errorSchema },
        },
      },
      async (req, reply) => {
        try {
          const body = await buildAuditExport({
            influx: ctx.influx,
            site: ctx.site.model,
            from: req.query.from,
            to: req.query.to,
            now: ctx.now,
          })
          const text = documentText(signDocument(body, loadOrCreateSigningKey(ctx.auditKeyFile)))
          ctx.log.info(
            { from: req.query.from, to: req.query.to, by: req.access!.key.id },
            'audit export signed',
          )
          return reply
            .type('application/json')
            .header(
              'content-disposition',
              `attachment; filename="audit-${req.query.from}-${req.query.to}.json"`,
            )
            .send(text as never) // the signed bytes as they are: no 200 schema re-serialises them
        } catch (err) {
          throw apiErrorOf(err, 'the audit export')
        }
      },
    )
  }
}
