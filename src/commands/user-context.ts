/**
 * The context of a command that needs a login (`access: 'user'`): the session's context plus the
 * logged-in user and their storage as plain values. The dispatcher makes one for each such command
 * after its login check, so no handler meets a getter that throws.
 */
import type { Logger } from '../logger.js';
import type { Reply, Sent } from '../base/reply.js';
import type { LoggedInUser, SessionState } from '../session.js';
import type { ServerSettings } from '../settings.js';
import type { Storage, Upload } from '../storage/storage.js';
import type { VirtualPath } from '../base/virtual-path.js';
import type { ServerEvents } from '../events.js';
import type { CommandContext, CommandRegistry, DataSetup, LoginOutcome, SessionContext, TransferSource } from './context.js';

export class UserContext implements CommandContext {
  readonly storage: Storage;

  constructor(
    private readonly base: SessionContext,
    readonly user: LoggedInUser,
  ) {
    this.storage = user.storage;
  }

  get id(): string {
    return this.base.id;
  }
  get session(): SessionState {
    return this.base.session;
  }
  get settings(): ServerSettings {
    return this.base.settings;
  }
  get registry(): CommandRegistry {
    return this.base.registry;
  }
  get log(): Logger {
    return this.base.log;
  }
  get events(): ServerEvents {
    return this.base.events;
  }
  get secure(): boolean {
    return this.base.secure;
  }
  get implicit(): boolean {
    return this.base.implicit;
  }
  get tlsAvailable(): boolean {
    return this.base.tlsAvailable;
  }
  get remoteAddress(): string {
    return this.base.remoteAddress;
  }
  get localAddress(): string {
    return this.base.localAddress;
  }
  get family(): 4 | 6 {
    return this.base.family;
  }
  get transferring(): boolean {
    return this.base.transferring;
  }
  get transferredBytes(): number {
    return this.base.transferredBytes;
  }

  resolve(arg: string): VirtualPath {
    return this.base.resolve(arg);
  }
  send(reply: Reply): Promise<void> {
    return this.base.send(reply);
  }
  startTls(): Promise<void> {
    return this.base.startTls();
  }
  clearTls(reply: Reply): Promise<void> {
    return this.base.clearTls(reply);
  }
  login(user: string, password: string): Promise<LoginOutcome> {
    return this.base.login(user, password);
  }
  certificateLogin(user: string): Promise<'ok' | 'too-many-sessions' | undefined> {
    return this.base.certificateLogin(user);
  }
  prepareData(setup: DataSetup): Promise<{ host: string; port: number } | void> {
    return this.base.prepareData(setup);
  }
  sendData(source: () => Promise<TransferSource>, opening: string): Promise<Sent> {
    return this.base.sendData(source, opening);
  }
  receiveData(upload: () => Promise<Upload>, opening: string, path: VirtualPath): Promise<Sent> {
    return this.base.receiveData(upload, opening, path);
  }
  abortTransfer(): Promise<boolean> {
    return this.base.abortTransfer();
  }
  close(): void {
    this.base.close();
  }
}
