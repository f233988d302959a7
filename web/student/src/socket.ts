// The `/student` socket, typed by the events maps generated from vigil-proto:
// every `on` and `emit` is checked against the wire types.

import type { AnsweredEvent, AnswerOf, EventArgs, PayloadOf, StudentClientToServer, StudentServerToClient } from "@proto";
import type { Socket } from "socket.io-client";

export type StudentSocket = Socket<StudentServerToClient, StudentClientToServer>;

type Out = StudentClientToServer;

/** The events that carry no payload, only the answer (`start`, `submit`, `identity_submit`, `break_start`, `break_end`). */
export type BareEvent = { [E in keyof Out]: EventArgs<Out, E> extends [(answer: never) => void] ? E : never }[keyof Out];

/**
 * Emits `event` and resolves with the server's answer; rejects when none
 * comes within `timeoutMs` (or the socket is down that long).
 */
export function ask<E extends AnsweredEvent<Out>>(
  socket: StudentSocket,
  timeoutMs: number,
  event: E,
  payload: PayloadOf<Out, E>,
): Promise<AnswerOf<Out, E>> {
  // socket.io-client types the answer of `timeout(ms).emitWithAck` as `any`
  // (socketio/socket.io#4925); this signature restores it from the map.
  const timed = socket.timeout(timeoutMs) as unknown as {
    emitWithAck(event: E, payload: PayloadOf<Out, E>): Promise<AnswerOf<Out, E>>;
  };
  return timed.emitWithAck(event, payload);
}

/** Like {@link ask}, for an event that carries no payload. */
export function askBare<E extends BareEvent>(socket: StudentSocket, timeoutMs: number, event: E): Promise<EventArgs<Out, E> extends [(answer: infer A) => void] ? A : never> {
  const timed = socket.timeout(timeoutMs) as unknown as { emitWithAck(event: E): Promise<EventArgs<Out, E> extends [(answer: infer A) => void] ? A : never> };
  return timed.emitWithAck(event);
}
