import {
  type ArgumentsHost,
  Catch,
  Controller,
  type ExceptionFilter,
  Get,
  Logger,
  ServiceUnavailableException,
  UseFilters,
} from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import {
  HealthCheck,
  type HealthCheckResult,
  HealthCheckService,
  type HealthIndicatorResult,
  HealthIndicatorService,
} from '@nestjs/terminus';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { DataSource } from 'typeorm';
import { databaseConfigurationProblem, withDeadline } from '../database/database-errors.js';
import { EventSinks } from '../events/event-sinks.js';
import { PROBLEM_CONTENT_TYPE } from '../http/problem.js';
import { IotdaAmqpConsumer } from '../receiving/iotda-amqp.consumer.js';
import { HealthProblemResponse } from './health.response.js';

// Well inside a load balancer's probe timeout; a database slower than this is not ready.
const READY_PING_TIMEOUT_MS = 1500;

const logger = new Logger('Health');

/**
 * A failed check is 503 as a load balancer expects, with the body as problem details like every
 * other error of this service; the check results go in `checks`.
 */
@Catch(ServiceUnavailableException)
class HealthProblemFilter implements ExceptionFilter {
  catch(exception: ServiceUnavailableException, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const checks = exception.getResponse() as HealthCheckResult;
    logger.warn({ requestId: request.id, checks: checks.error }, 'Not ready');
    void reply
      .status(503)
      .header('content-type', PROBLEM_CONTENT_TYPE)
      .header('retry-after', '5')
      .send(
        JSON.stringify({
          type: 'about:blank',
          title: 'Service Unavailable',
          status: 503,
          detail: 'A health check failed: the service cannot serve requests now',
          requestId: request.id,
          checks,
        }),
      );
  }
}

@ApiTags('operations')
@Controller('health')
@UseFilters(HealthProblemFilter)
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly dataSource: DataSource,
    private readonly amqp: IotdaAmqpConsumer,
    private readonly events: EventSinks,
  ) {}

  @Get('live')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({
    summary: 'Liveness: the process is up and answering',
    description: 'Checks nothing outside the process; restart the instance when this fails.',
  })
  @ApiOkResponse({
    description: 'Up',
    schema: { example: { status: 'ok', info: {}, error: {}, details: {} } },
  })
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck({ swaggerDocumentation: false })
  @ApiOperation({
    summary: 'Readiness: the database answers',
    description: `Pings the database (within ${READY_PING_TIMEOUT_MS} ms); send traffic only while this is 200.`,
  })
  @ApiOkResponse({
    description: 'Ready',
    schema: {
      example: {
        status: 'ok',
        info: { database: { status: 'up' } },
        error: {},
        details: { database: { status: 'up' } },
      },
    },
  })
  @ApiServiceUnavailableResponse({
    type: HealthProblemResponse,
    description: 'Not ready: problem details, with the check results in `checks`',
  })
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.databaseCheck(),
      ...(this.amqp.health().state === 'disabled' ? [] : [() => this.amqpCheck()]),
      ...(this.events.names.length === 0 ? [] : [() => this.eventsCheck()]),
    ]);
  }

  /**
   * The events sinks, when configured: `degraded` (still 200) while one is more than
   * EVENTS_MAX_LAG_SECONDS behind; callbacks are served all the same and the sink catches up.
   */
  private async eventsCheck(): Promise<HealthIndicatorResult<'events'>> {
    const indicator = this.indicators.check('events');
    const maxLagSeconds = this.events.maxLagSeconds;
    try {
      const sinks = await withDeadline(this.events.status(), READY_PING_TIMEOUT_MS);
      const behind = sinks.filter((sink) => (sink.lagSeconds ?? 0) > maxLagSeconds);
      const details = { maxLagSeconds, sinks };
      return behind.length === 0
        ? indicator.up(details)
        : indicator.degraded({ ...details, behind: behind.map((sink) => sink.sink) });
    } catch {
      return indicator.degraded({ maxLagSeconds, message: "the sinks' positions cannot be read" });
    }
  }

  /**
   * The IoTDA AMQP consumer, when configured: `degraded` (still 200) while it is not receiving,
   * since HTTP pushes are served all the same and the consumer reconnects by itself.
   */
  private amqpCheck(): HealthIndicatorResult<'iotdaAmqp'> {
    const indicator = this.indicators.check('iotdaAmqp');
    const { state, ...details } = this.amqp.health();
    return state === 'receiving'
      ? indicator.up({ consumer: state, ...details })
      : indicator.degraded({ consumer: state, ...details });
  }

  /**
   * Pings the database. A refusal that waiting does not cure (wrong credentials, a database that
   * does not exist) is reported as `reason: "configuration"` and logged at error; anything else
   * as `reason: "unavailable"`, an outage the service rides out by itself.
   */
  private async databaseCheck(): Promise<HealthIndicatorResult<'database'>> {
    const indicator = this.indicators.check('database');
    try {
      await withDeadline(this.dataSource.query('SELECT 1'), READY_PING_TIMEOUT_MS);
      return indicator.up();
    } catch (error) {
      const configuration = databaseConfigurationProblem(error);
      if (configuration !== undefined) {
        logger.error(`Database configuration error: ${configuration}`);
        return indicator.down({ reason: 'configuration', message: configuration });
      }
      return indicator.down({
        reason: 'unavailable',
        message: `the database is unreachable or did not answer within ${READY_PING_TIMEOUT_MS} ms`,
      });
    }
  }
}
