import { type ParsedFields, identifier, instant, optional, text } from '../http/fields.js';

/** GET /analytics/commands */
export const COMMAND_ANALYTICS_QUERY = {
  serviceId: optional(text(128, false), { description: 'Commands of this serviceId' }),
  method: optional(text(128, false), { description: 'Commands of this method' }),
  campaignId: optional(identifier, { description: "The commands of this campaign's dispatches" }),
  deviceId: optional(identifier, { description: 'Commands of this device' }),
  since: optional(instant, {
    description: 'createdAt at or after (inclusive)',
    example: '2026-11-26T00:00:00Z',
  }),
  until: optional(instant, {
    description: 'createdAt before (exclusive)',
    example: '2026-11-27T00:00:00Z',
  }),
};

export type CommandAnalyticsQuery = ParsedFields<typeof COMMAND_ANALYTICS_QUERY>;
