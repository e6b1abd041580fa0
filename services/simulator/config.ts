/** Simulated plant fleet settings (section `simulator`). */
import { z } from 'zod'

export const simulatorConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Run the simulated fleet with `kawasan start`'),
    intervalMs: z.number().int().min(100).default(5000).describe('How often each simulated device publishes'),
    url: z.string().optional().describe('Broker to publish to (default: the embedded broker)'),
    secretsFile: z
      .string()
      .default('infra/examples/cikarang/simulator-secrets.yaml')
      .describe('Demo gateway passwords matching the site model hashes'),
  })
  .prefault({})
export type SimulatorConfig = z.infer<typeof simulatorConfigSchema>
