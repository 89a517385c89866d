import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Controller, Get, Inject, Param, Res, Sse, type MessageEvent } from '@nestjs/common';
import { interval, map, merge, type Observable } from 'rxjs';
import { MESH_CONFIG, type MeshConfig } from '@agent-mesh/runtime';
import { ConsoleFeed } from './console-feed';

/** A comment-like event this often keeps proxies from closing an idle stream. */
const KEEP_ALIVE_MS = 15_000;

/** The part of Express's response the console uses (Express's `send` checks paths, types, caching). */
interface FileResponse {
  status(code: number): FileResponse;
  type(type: string): FileResponse;
  send(body: string): void;
  sendFile(path: string, options: { root: string; maxAge?: number }, done: (error?: Error) => void): void;
}

const NOT_BUILT = (dir: string) => `<!doctype html><meta charset="utf-8"><title>Agent Mesh console</title>
<h1>The console is not built</h1>
<p>This orchestrator serves the console from <code>${dir.replace(/[<>&]/g, '')}</code>, which has no <code>index.html</code>.
Build it with <code>npx nx build console</code> (from the repository's root; it writes <code>dist/console</code>),
or set <code>MESH_CONSOLE_DIR</code> to where the build is.</p>`;

/**
 * The operator's console: its page and built assets (`nx build console`, apps/console) at
 * `/console`, open without an API key (they hold no data), and its live feed at
 * `/console/events` (Server-Sent Events, behind the API key like every other route).
 */
@Controller('console')
export class ConsoleController {
  constructor(
    private readonly feed: ConsoleFeed,
    @Inject(MESH_CONFIG) private readonly config: MeshConfig,
  ) {}

  @Get()
  page(@Res() response: FileResponse): void {
    const dir = this.config.consoleDir;
    if (!existsSync(join(dir, 'index.html'))) {
      response.status(503).type('html').send(NOT_BUILT(dir));
      return;
    }
    // The page is small and names its hashed assets: always the current one.
    this.sendFile(response, 'index.html', 0);
  }

  @Get('assets/*path')
  asset(@Param('path') path: string[] | string, @Res() response: FileResponse): void {
    // Hashed names: an asset never changes, it can be cached long.
    this.sendFile(response, join('assets', ...(Array.isArray(path) ? path : [path])), 365 * 24 * 3_600_000);
  }

  /** Server-Sent Events: `ready`, then `workflow` for each workflow event, and `ping` every 15 s. */
  @Sse('events')
  events(): Observable<MessageEvent> {
    const feed = this.feed.events().pipe(map(({ kind, ...data }): MessageEvent => ({ type: kind, data })));
    const pings = interval(KEEP_ALIVE_MS).pipe(map((): MessageEvent => ({ type: 'ping', data: {} })));
    return merge(feed, pings);
  }

  private sendFile(response: FileResponse, path: string, maxAge: number): void {
    response.sendFile(path, { root: this.config.consoleDir, maxAge }, (error) => {
      if (error) response.status(404).type('text').send(`no console file ${path}`);
    });
  }
}
