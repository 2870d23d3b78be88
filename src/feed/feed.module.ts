import { Module } from '@nestjs/common';
import { FeedMetrics } from '../metrics/feed-metrics.js';
import { ChangeFeed } from './change-feed.js';
import { ChangeReader } from './change-reader.js';
import { ChangesController } from './changes.controller.js';

/**
 * GET /changes: the change feed. ChangeReader is exported so that writers can wake it after a
 * commit (ChangeReader.wake).
 */
@Module({
  controllers: [ChangesController],
  providers: [ChangeReader, ChangeFeed, FeedMetrics],
  exports: [ChangeReader],
})
export class FeedModule {}
