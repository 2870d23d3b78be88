import { Controller, Get, Logger, NotFoundException, Param, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { type FastifyReply } from 'fastify';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { PAGE_CONTENT_SECURITY_POLICY } from '../http/security-headers.js';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

interface Asset {
  body: Buffer;
  contentType: string;
}

/**
 * The built page: beside this file in dist/, or in dist/ when this file runs from its source
 * (the tests), where `npm run build` puts it.
 */
function assetDirectory(): string | undefined {
  const candidates = [
    join(import.meta.dirname, 'page'),
    resolve(import.meta.dirname, '../../dist/src/dashboard/page'),
  ];
  return candidates.find((dir) => existsSync(join(dir, 'app.js')));
}

/** Reads the page's files once: a handful of small files, served from memory. */
function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const contentType = CONTENT_TYPES[extname(name)];
    if (contentType !== undefined) {
      assets.set(name, { body: readFileSync(join(dir, name)), contentType });
    }
  }
  return assets;
}

/** GET /dashboard: the operations page and its scripts and styles (open: the page asks for a key). */
@ApiTags('dashboard')
@Controller('dashboard')
export class DashboardPageController {
  private readonly assets: Map<string, Asset>;

  constructor() {
    const dir = assetDirectory();
    this.assets = dir === undefined ? new Map<string, Asset>() : loadAssets(dir);
    if (dir === undefined) {
      new Logger('Dashboard').warn('The operations page is not built: run npm run build');
    }
  }

  @Get()
  @ApiOperation({
    summary: 'The operations page (HTML); it calls the API with the key it asks for',
  })
  @ApiOkResponse({ description: 'text/html' })
  page(@Res() reply: FastifyReply): void {
    this.send(reply, 'index.html');
  }

  @Get('assets/:file')
  @ApiExcludeEndpoint()
  asset(@Param('file') file: string, @Res() reply: FastifyReply): void {
    if (file === 'index.html') {
      throw new NotFoundException(`No asset ${file}`);
    }
    this.send(reply, file);
  }

  private send(reply: FastifyReply, name: string): void {
    const asset = this.assets.get(name);
    if (asset === undefined) {
      throw new NotFoundException(
        name === 'index.html'
          ? 'The operations page is not built: run npm run build'
          : `No asset ${name}`,
      );
    }
    void reply
      .header('content-type', asset.contentType)
      // Names carry no hash: the browser revalidates, and a new build is seen at once.
      .header('cache-control', 'no-cache')
      .header('content-security-policy', PAGE_CONTENT_SECURITY_POLICY)
      .header('referrer-policy', 'no-referrer')
      .send(asset.body);
  }
}
