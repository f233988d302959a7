// The `/student` socket, typed by the events maps generated from vigil-proto:
// every `on` and `emit` is checked against the wire types.

import type { AnsweredEvent, AnswerOf, PayloadOf, StudentClientToServer, StudentServerToClient } from "@proto";
import type { Socket } from "socket.io-client";

export type StudentSocket = Socket<StudentServerToClient, StudentClientToServer>;

type Out = StudentClientToServer;

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

/** Like {@link ask}, for an event that carries no payload (`start`, `submit`). */
export function askBare<A>(socket: StudentSocket, timeoutMs: number, event: "start" | "submit"): Promise<A> {
  const timed = socket.timeout(timeoutMs) as unknown as { emitWithAck(event: string): Promise<A> };
  return timed.emitWithAck(event);
}
