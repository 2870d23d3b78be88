import { Logger } from '@nestjs/common';
import { createLogger } from '../../src/logging/logger.js';
import { nestLogger } from '../../src/logging/nest-logger.js';

// Jest's setupFiles, before each test file. Code that logs outside an application (a platform
// client or a service built by a test) writes through Nest's default logger, which prints every
// level, debug included, in its console format. Here it writes as the service does: pino's JSON, at
// error (a test that starts an application replaces it with that application's logger).
Logger.overrideLogger(nestLogger(createLogger('error')));
