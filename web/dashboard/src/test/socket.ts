/**
 * A socket.io-client stand-in for `/proctor`: tests deliver server events
 * with `fire` (payloads checked against the events map) and answer requests
 * through `answer`.
 */
import type { ProctorServerToClient } from "@proto";
import type { ProctorSocket } from "../net/socket";

type Handler = (...args: never[]) => void;

/** socket.io-client's own events, which the server never sends by name. */
interface Reserved {
  connect: () => void;
  disconnect: (reason: string) => void;
  connect_error: (err: Error) => void;
}

type Incoming = ProctorServerToClient & Reserved;

export class FakeProctorSocket {
  active = true;
  connects = 0;
  disconnects = 0;
  /** Everything emitted, with or without an answer expected, in order. */
  readonly emitted: Array<[string, unknown]> = [];
  /** The server's answer to an emit that wants one; times out by default. */
  answer: (event: string, payload: unknown) => Promise<unknown> = () => Promise.reject(new Error("operation has timed out"));
  private readonly handlers = new Map<string, Handler[]>();

  /** This fake where the app wants the real socket type (it implements the part the app uses). */
  get socket(): ProctorSocket {
    return this as unknown as ProctorSocket;
  }

  on(event: string, fn: Handler): this {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), fn]);
    return this;
  }
  off(): this {
    return this;
  }
  connect(): this {
    this.connects++;
    return this;
  }
  disconnect(): this {
    this.disconnects++;
    this.active = false;
    return this;
  }
  emit(event: string, payload: unknown): this {
    this.emitted.push([event, payload]);
    return this;
  }
  timeout(): { emitWithAck: (event: string, payload: unknown) => Promise<unknown> } {
    return {
      emitWithAck: (event, payload) => {
        this.emitted.push([event, payload]);
        return this.answer(event, payload);
      },
    };
  }

  /** Delivers `event` to the app's listeners as the server (or socket.io-client) would. */
  fire<E extends keyof Incoming>(event: E, ...args: Parameters<Incoming[E]>): void {
    for (const h of this.handlers.get(event) ?? []) (h as (...a: Parameters<Incoming[E]>) => void)(...args);
  }
}
