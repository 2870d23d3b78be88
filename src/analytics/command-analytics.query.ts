import { ApiPropertyOptional } from '@nestjs/swagger';
import { INSTANT_MESSAGE, instantOf } from '../http/instants.js';
import { IsIdentifier, IsText, Optional, ParsedWith } from '../http/validators.js';

/** GET /analytics/commands */
export class CommandAnalyticsQuery {
  @ApiPropertyOptional({ type: String, description: 'Commands of this serviceId' })
  @Optional()
  @IsText(128, false)
  serviceId?: string;

  @ApiPropertyOptional({ type: String, description: 'Commands of this method' })
  @Optional()
  @IsText(128, false)
  method?: string;

  @ApiPropertyOptional({ type: String, description: "The commands of this campaign's dispatches" })
  @Optional()
  @IsIdentifier()
  campaignId?: string;

  @ApiPropertyOptional({ type: String, description: 'Commands of this device' })
  @Optional()
  @IsIdentifier()
  deviceId?: string;

  @ApiPropertyOptional({
    type: String,
    description: 'createdAt at or after (inclusive)',
    example: '2026-11-26T00:00:00Z',
  })
  @ParsedWith('isInstant', instantOf, INSTANT_MESSAGE)
  since?: Date;

  @ApiPropertyOptional({
    type: String,
    description: 'createdAt before (exclusive)',
    example: '2026-11-27T00:00:00Z',
  })
  @ParsedWith('isInstant', instantOf, INSTANT_MESSAGE)
  until?: Date;
}
