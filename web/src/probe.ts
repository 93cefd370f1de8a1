// What the seed's console showed, exposed for the harness: window.chatLeakProbe.
export interface SubscriptionCount {
  message: number;
  state: number;
}

export const probe = {
  subscriptions: { message: 0, state: 0 } as SubscriptionCount,
  sockets_opened: 0,
  sockets_open: 0,
  messages_handled: 0,
  messages_received: 0,
  replies: 0,
  last_reply_ms: null as number | null,
  last_first_token_ms: null as number | null,
};

declare global {
  interface Window {
    chatLeakProbe: typeof probe;
  }
}

window.chatLeakProbe = probe;

export const leakMode = new URLSearchParams(window.location.search).get('leak') ?? '';
