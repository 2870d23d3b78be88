import { ApiProperty } from '@nestjs/swagger';

// The 503 of GET /health/ready, for the OpenAPI document.
export class HealthProblemResponse {
  @ApiProperty({ example: 'about:blank' })
  type!: string;

  @ApiProperty({ example: 'Service Unavailable' })
  title!: string;

  @ApiProperty({ example: 503 })
  status!: number;

  @ApiProperty({ example: 'A health check failed: the service cannot serve requests now' })
  detail!: string;

  @ApiProperty({ example: '0b6f2b2e-8c1e-4a55-9d54-2b1f0e7f4a11' })
  requestId!: string;

  @ApiProperty({
    description: "Terminus's check results",
    example: {
      status: 'error',
      info: {},
      error: { database: { status: 'down', message: 'timeout of 1500ms exceeded' } },
      details: { database: { status: 'down', message: 'timeout of 1500ms exceeded' } },
    },
  })
  checks!: object;
}
