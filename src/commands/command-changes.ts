import { Injectable } from '@nestjs/common';
import { type Observable, Subject } from 'rxjs';
import { type CommandStatus, type ReportSource } from './command-status.js';

/** An applied status change, as the change feed sends it. */
export interface CommandChange {
  id: string;
  commandId: string;
  deviceId: string;
  status: CommandStatus;
  previousStatus: CommandStatus | null;
  source: ReportSource;
  version: number;
  receivedAt: string;
}

/** Applied changes of this process, published after their transaction committed. */
@Injectable()
export class CommandChanges {
  private readonly subject = new Subject<CommandChange>();

  get changes(): Observable<CommandChange> {
    return this.subject.asObservable();
  }

  publish(change: CommandChange): void {
    this.subject.next(change);
  }
}
