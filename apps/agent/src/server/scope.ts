// What a request handler is given (the agent-wide context and its connection's parts) and its
// type, per request: what it answers is the protocol's result for that request.
import type { ClientMessage, ResultOf, RequestType } from '@nslab/shared';
import type { Access } from './access.js';
import type { Subscriptions } from './subscriptions.js';
import type { ConnectionContext } from './context.js';
import type { TokenBucket } from './rate.js';
import type { Room } from './room.js';

/** What a handler may use: the agent-wide context and this connection's parts. */
export interface HandlerScope {
  ctx: ConnectionContext;
  access: Access;
  subs: Subscriptions;
  /** The workshops it follows, as a learner or an instructor. */
  room: Room;
  /** Input bytes this connection may still send (its bucket). */
  input: TokenBucket;
  address: string;
  /** The connection, as the presence of a lab's clients knows it. */
  holder: object;
  /** The connection has gone (a request finished after the client left). */
  closed(): boolean;
  /** Send the result of `attach` before its replay frames. */
  announce(id: string | number, data: unknown): void;
}

export type Handled = Exclude<ClientMessage['type'], 'auth'>;
type ResultFor<T extends Handled> = T extends RequestType ? ResultOf<T> | undefined : undefined;
export type Handler<T extends Handled> = (scope: HandlerScope, msg: Extract<ClientMessage, { type: T }>) => Promise<ResultFor<T>> | ResultFor<T>;
