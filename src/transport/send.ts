/**
 * The one way a process sends on a ZeroMQ socket it shares between loops (a heartbeat timer and a
 * main loop, a broadcast and a reply): sends queue behind each other, so multipart messages never
 * interleave; a failed send is logged and the chain goes on (never an unhandled rejection); sends
 * after the socket closed are dropped (a heartbeat racing Ctrl-C).
 */
export interface SendableSocket {
  send(message: Uint8Array | Uint8Array[]): Promise<void>;
  readonly closed: boolean;
}

export type Sender = (message: Uint8Array | Uint8Array[]) => Promise<void>;

export function serialSender(socket: SendableSocket, log: (line: string) => void): Sender {
  let chain = Promise.resolve();
  return (message) => {
    chain = chain
      .then(() => (socket.closed ? undefined : socket.send(message)))
      .catch((e: Error) => {
        if (!socket.closed) log(`send failed: ${e.message}`);
      });
    return chain;
  };
}
