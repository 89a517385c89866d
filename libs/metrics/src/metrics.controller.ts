import type { ServerResponse } from 'node:http';
import { Controller, Get, Res } from '@nestjs/common';
import { MeshMetrics } from './mesh-metrics';

/** `GET /metrics`: the Prometheus text exposition, open without an API key (see api-keys.ts). */
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MeshMetrics) {}

  @Get()
  async scrape(@Res({ passthrough: true }) response: ServerResponse): Promise<string> {
    response.setHeader('content-type', this.metrics.contentType);
    return this.metrics.text();
  }
}
